// Types for the tests that import the browser module (this file is not served).
export interface Chosen<F = unknown> {
  file: F;
  path: string;
}
export function planSelection<F>(list: Chosen<F>[]): { files: Chosen<F>[]; csv?: Chosen<F>; items: number; batch?: string };
