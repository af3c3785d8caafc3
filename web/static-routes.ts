import type Router from '@koa/router';
import type Koa from 'koa';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import { publicRoute } from './authorize.ts';

/** The browser client: plain ES modules, styles and the page shell, served as they are on disk. */
export const PUBLIC_DIR = resolve(import.meta.dirname, 'public');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else if (TYPES[extname(name)]) out.push(p);
  }
  return out;
}

/**
 * One public route per file that exists at start: no path from the request ever reaches the file
 * system, so traversal has nothing to work with. The shell answers at `/` and at `/login`.
 */
export function staticRoutes(router: Router, dir = PUBLIC_DIR): void {
  const send = (file: string) => async (ctx: Koa.Context) => {
    ctx.type = TYPES[extname(file)];
    // Revalidated on every load: an upgraded appliance never runs yesterday's script.
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = createReadStream(file);
  };
  for (const file of listFiles(dir)) {
    const url = `/ui/${relative(dir, file).split(sep).join('/')}`;
    router.get(url, publicRoute(), send(file));
  }
  const shell = join(dir, 'index.html');
  router.get('/', publicRoute(), send(shell));
  router.get('/login', publicRoute(), send(shell));
}
