#!/usr/bin/env node
// Entry of the `archive` command. An installed release runs the JavaScript compiled into its bundle
// (appliance/bundle.ts); a checkout runs its TypeScript through tsx's loader, so it always runs
// exactly the code in the checkout (no build that could be stale).
import { existsSync } from 'node:fs';

const compiled = new URL('../cli.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli.ts');
}
