// Types for the tests that import the browser module (this file is not served).
import type { PageText } from '../../../ingest/index.ts';

export interface HitBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  line: number;
  term: string;
}
export function norm(s: string | undefined): string;
export function hitBoxes(page: Pick<PageText, 'lines'>, terms: string[]): HitBox[];
export function termsOf(q: string | null | undefined): string[];
