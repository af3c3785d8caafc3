import { describe, expect, it } from 'vitest';
import { ScanAhead } from '../../ingest/scan-ahead.ts';

const settle = () => new Promise((r) => setTimeout(r, 20));

/** A step that records what it was given and finishes only when told. */
function steps() {
  const started: number[] = [];
  const open = new Map<number, (ok: boolean) => void>();
  return {
    started,
    step: (x: number) =>
      new Promise<boolean>((resolve) => {
        started.push(x);
        open.set(x, resolve);
      }),
    finish: (x: number, ok = true) => open.get(x)!(ok),
  };
}

describe('ScanAhead (the virus gate ahead of OCR)', () => {
  it('goes over the items one at a time, in order, never more than `ahead` past the item the reader last asked for', async () => {
    const s = steps();
    const gate = new ScanAhead([1, 2, 3, 4, 5], s.step, { ahead: 2, halted: () => false });
    await settle();
    expect(s.started).toEqual([1]); // one at a time
    s.finish(1);
    await settle();
    expect(s.started).toEqual([1, 2]);
    s.finish(2);
    await settle();
    expect(s.started).toEqual([1, 2]); // the reader has asked for nothing: 2 ahead at most
    expect(await gate.answer(1)).toBe(true);
    await settle();
    expect(s.started).toEqual([1, 2, 3]);
    s.finish(3, false);
    expect(await gate.answer(2)).toBe(true);
    expect(await gate.answer(3)).toBe(false);
    await settle();
    expect(s.started).toEqual([1, 2, 3, 4]);
    const five = gate.answer(5); // asked before its step ran: waited for, not skipped
    s.finish(4);
    await settle();
    expect(s.started).toEqual([1, 2, 3, 4, 5]);
    s.finish(5);
    expect(await five).toBe(true);
    expect(await gate.answer(4)).toBe(true);
    await gate.done;
  });

  it('a step that throws: that answer and every later one reject, and nothing after it is started', async () => {
    const started: number[] = [];
    const gate = new ScanAhead(
      [1, 2, 3],
      async (x) => {
        started.push(x);
        if (x === 2) throw new Error('audit trail unwritable');
        return true;
      },
      { ahead: 5, halted: () => false },
    );
    expect(await gate.answer(1)).toBe(true);
    await expect(gate.answer(2)).rejects.toThrow('audit trail unwritable');
    await expect(gate.answer(3)).rejects.toThrow('audit trail unwritable');
    expect(started).toEqual([1, 2]);
  });

  it('halted or closed: the step under way finishes, no further one starts, and the rest answer false', async () => {
    let halted = false;
    const s = steps();
    const gate = new ScanAhead([1, 2, 3], s.step, { ahead: 5, halted: () => halted });
    await settle();
    halted = true;
    s.finish(1);
    expect(await gate.answer(1)).toBe(true);
    expect(await gate.answer(2)).toBe(false);
    expect(await gate.answer(3)).toBe(false);
    expect(s.started).toEqual([1]);

    const t = steps();
    const gate2 = new ScanAhead([1, 2, 3], t.step, { ahead: 1, halted: () => false });
    await settle();
    const closed = gate2.close();
    t.finish(1);
    await closed;
    expect(t.started).toEqual([1]);
    expect(await gate2.answer(2)).toBe(false);
  });
});
