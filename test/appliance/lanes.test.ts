import { describe, expect, it } from 'vitest';
import { inLanes } from '../../core/concurrency.ts';

const tick = () => new Promise((r) => setTimeout(r, 2));

describe('inLanes', () => {
  it('runs every index once, never more than the lanes at a time', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await inLanes(10, 3, async (i) => {
      running++;
      most = Math.max(most, running);
      await tick();
      seen.push(i);
      running--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(most).toBe(3);
    await inLanes(0, 4, async () => {
      throw new Error('not called');
    });
  });

  it('starts nothing after a failure and throws it once the running calls have ended', async () => {
    const started: number[] = [];
    let ended = 0;
    const err = await inLanes(20, 2, async (i) => {
      started.push(i);
      await tick();
      ended++;
      if (i === 3) throw new Error('bad 3');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('bad 3');
    expect(ended).toBe(started.length); // nothing still running when it was thrown
    expect(started.length).toBeLessThanOrEqual(5);
  });
});
