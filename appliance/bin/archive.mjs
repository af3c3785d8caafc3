#!/usr/bin/env node
// Entry of the `archive` command. TypeScript sources run through tsx's loader so the command
// always runs exactly the code in the checkout (no stale build), on and off the appliance.
import { register } from 'tsx/esm/api';
register();
await import('../cli.ts');
