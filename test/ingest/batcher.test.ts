import { describe, expect, it } from 'vitest';
import { Batcher } from '../../ingest/batcher.ts';

/** A commit that can be held open, to see what arrives meanwhile. */
function recorder() {
  const batches: number[][] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const commit = async (b: number[]) => {
    batches.push(b);
    if (hold) await new Promise<void>((r) => (release = r));
  };
  return {
    batches,
    commit,
    hold: () => (hold = true),
    release: () => {
      hold = false;
      release?.();
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('Batcher (index updates held and sent together)', () => {
  it('holds items until the count or the weight is reached, in order', async () => {
    const r = recorder();
    const b = new Batcher<number>(r.commit, { maxItems: 3, maxWeight: 10, weight: (x) => x, maxWaitMs: 3_600_000 });
    b.add(1);
    b.add(1);
    await settle();
    expect(r.batches).toEqual([]);
    b.add(1);
    await settle();
    expect(r.batches).toEqual([[1, 1, 1]]);
    b.add(6);
    b.add(5); // 11 pages wait: committed, but one batch takes only what fits under the weight
    await settle();
    expect(r.batches).toEqual([[1, 1, 1], [6]]);
    await b.flush();
    expect(r.batches).toEqual([[1, 1, 1], [6], [5]]);
  });

  it('commits a lone item once it has waited long enough, and whatever waits on flush', async () => {
    const r = recorder();
    const b = new Batcher<number>(r.commit, { maxItems: 100, maxWeight: 1_000, weight: () => 1, maxWaitMs: 50 });
    b.add(7);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.batches).toEqual([[7]]);
    b.add(8);
    b.add(9);
    await b.flush();
    expect(r.batches).toEqual([[7], [8, 9]]);
    await b.flush(); // nothing waits: no empty commit
    expect(r.batches).toEqual([[7], [8, 9]]);
  });

  it('runs one commit at a time: items added during a commit go in a later one, none lost or repeated', async () => {
    const r = recorder();
    const b = new Batcher<number>(r.commit, { maxItems: 2, maxWeight: 1_000, weight: () => 1, maxWaitMs: 3_600_000 });
    r.hold();
    b.add(1);
    b.add(2);
    await settle();
    expect(r.batches).toEqual([[1, 2]]);
    for (const x of [3, 4, 5]) b.add(x);
    await settle();
    expect(r.batches).toEqual([[1, 2]]); // still in flight
    const flushed = b.flush();
    r.release();
    await flushed;
    expect(r.batches.flat()).toEqual([1, 2, 3, 4, 5]);
    expect(r.batches.every((x) => x.length <= 2)).toBe(true);
  });

  it('now() commits what waits at once, under the limits; after the commit in flight when there is one', async () => {
    const r = recorder();
    const b = new Batcher<number>(r.commit, { maxItems: 100, maxWeight: 1_000, weight: () => 1, maxWaitMs: 3_600_000 });
    b.add(1);
    b.now();
    await settle();
    expect(r.batches).toEqual([[1]]);
    r.hold();
    b.add(2);
    b.now();
    await settle();
    b.add(3);
    b.now(); // [2] is in flight: 3 goes after it, with whatever came meanwhile
    b.add(4);
    await settle();
    expect(r.batches).toEqual([[1], [2]]);
    r.release();
    await settle();
    expect(r.batches).toEqual([[1], [2], [3, 4]]);
    b.add(5);
    await settle();
    expect(r.batches).toEqual([[1], [2], [3, 4]]); // held again until the limits or a flush
    await b.flush();
    expect(r.batches).toEqual([[1], [2], [3, 4], [5]]);
  });

  it('a commit that throws stops the batches and flush reports it; what was queued is not committed', async () => {
    const seen: number[][] = [];
    const b = new Batcher<number>(
      async (x) => {
        seen.push(x);
        throw new Error('index refused');
      },
      { maxItems: 1, maxWeight: 1_000, weight: () => 1, maxWaitMs: 3_600_000 },
    );
    b.add(1);
    b.add(2);
    await expect(b.flush()).rejects.toThrow('index refused');
    expect(seen).toEqual([[1]]);
    expect(b.waiting).toBe(1);
  });
});
