import { generatedItems } from './generate.ts';
import { sampleItems, type BenchItem } from './samples.ts';

export type { BenchItem } from './samples.ts';

/** The named sets a bench reads: 'samples', 'generated' or 'all' (both). */
export async function benchItems(set: string): Promise<Array<{ set: string; items: BenchItem[] }>> {
  const out: Array<{ set: string; items: BenchItem[] }> = [];
  if (set === 'samples' || set === 'all') out.push({ set: 'samples', items: await sampleItems() });
  if (set === 'generated' || set === 'all') out.push({ set: 'generated', items: await generatedItems() });
  if (!out.length) throw new Error(`unknown set ${set} (samples, generated or all)`);
  return out;
}
