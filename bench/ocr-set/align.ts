/**
 * Recognised lines against ground-truth lines. Each recognised line is matched to the stretch of a
 * ground-truth line it reads best (semi-global edit distance: the reference may start and end
 * anywhere, so a printed line that Tesseract split in two still matches both halves), and its line
 * CER is that distance over the recognised line's length. A lost line (characters unrelated to
 * anything printed) scores near 1 whatever it is matched to.
 */
const fold = (s: string) => [...s.normalize('NFKC').replace(/\s+/gu, '')];

/** Least edits turning `a` into some substring of `b`. */
export function substringDistance(a: string[], b: string[]): number {
  if (!a.length) return 0;
  let prev = new Array<number>(b.length + 1).fill(0);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    [prev, cur] = [cur, prev];
  }
  return Math.min(...prev);
}

export interface LineMatch {
  /** Index of the best ground-truth line, -1 when there is none. */
  truth: number;
  /** Line CER (NFKC, spaces dropped): edits over the recognised line's length, at most 1. */
  cer: number;
}

export function matchLines(read: string[], truth: string[]): LineMatch[] {
  const t = truth.map(fold);
  return read.map((r) => {
    const a = fold(r);
    if (!a.length) return { truth: -1, cer: 0 };
    let best = { truth: -1, cer: 1 };
    t.forEach((b, i) => {
      const c = Math.min(1, substringDistance(a, b) / a.length);
      // On a tie the line nearest in length: a short line (档。) is inside many longer ones.
      const nearer = best.truth < 0 || Math.abs(b.length - a.length) < Math.abs(t[best.truth].length - a.length);
      if (c < best.cer || (c === best.cer && nearer)) best = { truth: i, cer: c };
    });
    return best;
  });
}

/**
 * Ground-truth lines no recognised line matched with CER at most `within` (lines lost without a
 * trace). A line printed twice (a heading repeated on the page) is found twice only when two
 * recognised lines match its text: each read line names the first of identical truth lines.
 */
export function missedTruth(matches: LineMatch[], truth: string[], within = 0.5): number[] {
  const key = truth.map((t) => fold(t).join(''));
  const hits = new Map<string, number>();
  for (const m of matches) if (m.cer <= within && m.truth >= 0) hits.set(key[m.truth], (hits.get(key[m.truth]) ?? 0) + 1);
  const missed: number[] = [];
  key.forEach((k, i) => {
    if (!k.length) return;
    const left = hits.get(k) ?? 0;
    if (left > 0) hits.set(k, left - 1);
    else missed.push(i);
  });
  return missed;
}
