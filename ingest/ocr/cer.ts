/**
 * Character error rate of OCR text against a reference: edit distance over code points divided by
 * the reference length, after dropping all whitespace and NFKC folding (so full-width and half-width
 * punctuation compare equal, as the sample ground truth prescribes).
 */
export function cer(ocr: string, reference: string): number {
  const fold = (s: string) => [...s.normalize('NFKC').replace(/\s+/gu, '')];
  return editRate(fold(ocr), fold(reference));
}

/** CER as printed: only whitespace dropped, so '，' read as ',' counts as an error. */
export function cerAsPrinted(ocr: string, reference: string): number {
  const chars = (s: string) => [...s.replace(/\s+/gu, '')];
  return editRate(chars(ocr), chars(reference));
}

function editRate(a: string[], b: string[]): number {
  if (b.length === 0) return a.length === 0 ? 0 : 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length] / b.length;
}
