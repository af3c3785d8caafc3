// Synthetic page text for the benches: sentences of the samples' ground truth recombined, numbers
// re-drawn so digits vary across the corpus, in printed lines of ~30 characters as OCR gives them.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED } from '../test/support/appliance.ts';

export function groundTruthSentences(): string[] {
  const gtDir = join(SHARED, 'samples', 'gt');
  return [
    ...new Set(
      readdirSync(gtDir)
        .filter((f) => f.endsWith('.json'))
        .flatMap((f) => (JSON.parse(readFileSync(join(gtDir, f), 'utf8')) as { pages: Array<{ lines: string[] }> }).pages.map((p) => p.lines.join('')))
        .flatMap((t) => t.split(/(?<=[。；！？])/u))
        .map((s) => s.trim())
        .filter((s) => s.length >= 6),
    ),
  ];
}

/** A page of 550–900 characters drawn with `rand` (the caller's seeded generator, so runs repeat). */
export function syntheticPageText(sentences: readonly string[], rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const lines: string[] = [];
  let n = 0;
  const target = 550 + Math.floor(rand() * 350);
  while (n < target) {
    const s = pick(sentences).replace(/\d+/g, (d) => String(Math.floor(rand() * 10 ** d.length)).padStart(d.length, '0'));
    for (let i = 0; i < s.length; i += 30) lines.push(s.slice(i, i + 30));
    n += s.length;
  }
  return lines.join('\n');
}
