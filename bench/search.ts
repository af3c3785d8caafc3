// bench/search: index synthetic pages up to each checkpoint (default 200,000; e.g. --checkpoints
// 200000,500000,1000000), and at each one print the index size on disk, Meilisearch's RSS, the
// indexing pages/s, and the latency of the search service (and the appliance's real GET
// /api/search) at 1, 8 and 32 concurrent clients beside the same queries sent straight to
// Meilisearch with the same filter, per query class: common two-character words (工作, 管理), a
// year (2014), rare strings (4-6 characters of one page) and two-term queries.
// Text: sentences of the samples' ground truth (numbers re-drawn) mixed with sentences drawn from
// the 20,000 most frequent words of jieba's dictionary by frequency (bench/data/zh-words.tsv), so
// the character pairs have a realistic long tail. Items of 1-6 pages, 8 posts, two clearances.
// Each item is drawn from its own seed, so `--keep DIR` resumes an interrupted run (and a later
// run with higher checkpoints) where the progress file in DIR says it stopped.
// The HTTP columns are sent from their own thread (bench/http-load.mjs). Prints figures; asserts nothing.
//   npx tsx bench/search.ts [--checkpoints 200000,500000,1000000] [--requests 120] [--keep DIR] [--index-only] [--classes rare,two]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request, type Server } from 'node:http';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Classification } from '../core/config.ts';
import { ensureDataDir } from '../core/data-dir.ts';
import { MeiliSupervisor } from '../appliance/meili-supervisor.ts';
import { createSearchService, type StoredItem } from '../search/index.ts';
import { parseQuery } from '../search/char-pairs.ts';
import { accessFilter } from '../search/tenant-token.ts';
import type { Viewer } from '../core/access.ts';
import { cleanup, tempDir } from '../test/support/appliance.ts';
import { rng } from '../test/search/support.ts';
import { POSTS, makeItem } from './search-corpus.ts';
import { createIngestService } from '../ingest/index.ts';
import { argon2Hasher, openSecurity } from '../security/index.ts';
import { createAuth } from '../web/auth.ts';
import { createWebApp } from '../web/index.ts';

const argStr = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const CHECKPOINTS = (argStr('checkpoints') ?? argStr('pages') ?? '200000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
const REQUESTS = Number(argStr('requests') ?? 120);
const KEEP = argStr('keep');
const INDEX_ONLY = process.argv.includes('--index-only');
/** Query classes to time, by the start of their name (e.g. --classes rare,two); all by default. */
const CLASSES = argStr('classes')?.split(',');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function run(concurrency: number, jobs: Array<() => Promise<unknown>>): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++];
        const t = performance.now();
        await job();
        times.push(performance.now() - t);
      }
    }),
  );
  return times;
}

const duBytes = (path: string): number => (existsSync(path) ? Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]) : 0);
const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
/** CPU seconds (user + system) of a process, or of one thread of this process. */
function cpuOf(path: string): number {
  const f = readFileSync(path, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function rssOf(pid: number | undefined): { rss: number; hwm: number } {
  const st = pid ? readFileSync(`/proc/${pid}/status`, 'utf8') : '';
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

interface Progress {
  nextItem: number;
  pages: number;
  /** Seconds spent indexing, summed over runs, at the last item indexed. */
  seconds: number;
  /** Per checkpoint reached: pages/s over the stretch since the previous one. */
  reached: Record<string, { pagesPerSec: number; seconds: number }>;
}

const dir = KEEP ?? (await tempDir('archive-bench-search-'));
await ensureDataDir(dir);
const progressFile = join(dir, 'bench-search-progress.json');
const progress: Progress = existsSync(progressFile) ? JSON.parse(readFileSync(progressFile, 'utf8')) : { nextItem: 0, pages: 0, seconds: 0, reached: {} };
const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dir, ARCHIVE_MEILI_PORT: '0' } });
// Its warnings (a restart, an unresponsive Meilisearch killed) go to stderr, with the figures.
const sup = new MeiliSupervisor(cfg, pino({ level: 'warn' }, pino.destination(2)));
await sup.start(120_000);
const conn = sup.connection;
const svc = createSearchService(conn, dir);
await svc.init();
let server: Server | undefined;
const sec = await openSecurity(cfg);
let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssOf(sup.pid).rss)), 2000);
try {
  // The appliance's real GET /api/search: session cookie, deny-by-default guard, the viewer's
  // tenant token, and an audit record for every search (what a staff user's browser pays).
  const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log: pino({ level: 'silent' }) });
  const ingest = await createIngestService(cfg, { log: pino({ level: 'silent' }), audit: sec.audit, search: svc });
  const svcApi = createSearchService(conn, dir);
  const app = createWebApp({ log: pino({ level: 'silent' }), auth, search: svcApi, ingest, health: async () => ({ status: 'ok', time: '', components: {} }) });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server!.once('listening', r));
  const port = (server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const http = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; cookies: string[]; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers, agent }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cookies: (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]), text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const vrand = rng(7);
  const viewers: Viewer[] = POSTS.flatMap((p) => [
    { posts: [p], clearance: '公开' as Classification },
    { posts: [p, POSTS[Math.floor(vrand() * POSTS.length)]], clearance: '内部' as Classification },
  ]);
  // One staff account per viewer, logged in before each checkpoint's queries (a session would
  // expire during the hours of indexing between them); the cookies are reused by the clients.
  for (const p of POSTS) await sec.identity.createPost({ code: p, name: p }).catch(() => undefined);
  const hash = await argon2Hasher.hash('Bench-password-2026');
  const cookieOf = new Map<Viewer, string>();
  for (const [i, v] of viewers.entries()) {
    const username = `bench${i}`;
    if (!(await sec.identity.findUser(username))) await sec.identity.createUser({ username, roles: ['staff'], posts: v.posts, clearance: v.clearance, passwordHash: hash, mustChangePassword: false });
  }
  const logIn = async () => {
    for (const [i, v] of viewers.entries()) await logInViewer(`bench${i}`, v);
  };
  async function logInViewer(username: string, v: Viewer): Promise<void> {
    const csrf = (await http('GET', '/api/auth/csrf', {})).cookies[0];
    const login = await http(
      'POST',
      '/api/auth/login',
      { cookie: csrf, 'x-csrf-token': csrf.split('=')[1], 'content-type': 'application/json' },
      JSON.stringify({ username, password: 'Bench-password-2026' }),
    );
    if (login.status !== 200) throw new Error(`login ${username}: ${login.status} ${login.text}`);
    cookieOf.set(v, login.cookies.join('; '));
  }

  interface HttpReq {
    host: string;
    port: number;
    path: string;
    method: string;
    headers: Record<string, string | number>;
    body?: string;
  }
  const meili = new URL(conn.host);
  const load = new Worker(new URL('./http-load.mjs', import.meta.url));
  const loadTid = await new Promise<number>((resolve) => load.once('message', (m: { tid: number }) => resolve(m.tid)));
  // CPU of a phase: Meilisearch's, and this process's without the clients' thread (the service, koa, the audit trail).
  const cpuNow = () => ({ meili: cpuOf(`/proc/${sup.pid}/stat`), server: cpuOf('/proc/self/stat') - cpuOf(`/proc/self/task/${loadTid}/stat`) });
  const cpuSince = (a: { meili: number; server: number }, n: number) => {
    const b = cpuNow();
    return { meili: ((b.meili - a.meili) / n) * 1000, server: ((b.server - a.server) / n) * 1000 };
  };
  let loadId = 0;
  const viaLoad = (concurrency: number, reqs: HttpReq[]) =>
    new Promise<number[]>((resolve, reject) => {
      const id = ++loadId;
      const on = (m: { id: number; times?: number[]; error?: string }) => {
        if (m.id !== id) return;
        load.off('message', on);
        if (m.error) reject(new Error(m.error));
        else resolve(m.times!);
      };
      load.on('message', on);
      load.postMessage({ id, concurrency, reqs });
    });

  const BATCH_PAGES = 2000;
  /** Until Meilisearch answers and has no task left (a batch timed out while still queued). */
  const idle = async () => {
    for (;;) {
      await new Promise((r) => setTimeout(r, 15_000));
      const left = await fetch(`${conn.host}/tasks?statuses=enqueued,processing&limit=1`, { headers: { Authorization: `Bearer ${conn.apiKey}` } })
        .then((r) => r.json() as Promise<{ total?: number }>)
        .catch(() => undefined);
      if (left?.total === 0) return;
    }
  };
  const saveProgress = () => writeFileSync(progressFile, JSON.stringify(progress, null, 1));
  for (const checkpoint of CHECKPOINTS) {
    // ---- indexing up to the checkpoint (two batches in flight, so Meilisearch can batch them) ----
    if (progress.pages < checkpoint) {
      const fromPages = progress.pages;
      const fromSec = progress.seconds;
      let started = performance.now();
      let lastReport = started;
      const inFlight: Array<{ done: Promise<unknown>; nextItem: number; pages: number }> = [];
      let item = progress.nextItem;
      let queued = progress.pages;
      const confirm = async () => {
        const b = inFlight.shift()!;
        await b.done;
        // Counted once Meilisearch confirmed it: a resumed run starts after the last whole batch.
        progress.nextItem = b.nextItem;
        progress.pages = b.pages;
        const now = performance.now();
        progress.seconds += (now - started) / 1000;
        started = now;
        saveProgress();
        if (now - lastReport > 60_000) {
          lastReport = now;
          console.log(
            `  ${new Date().toISOString().slice(11, 19)} indexed ${progress.pages} pages (${progress.nextItem} items), ${((progress.pages - fromPages) / (progress.seconds - fromSec)).toFixed(0)} pages/s since ${fromPages}, meili RSS ${gb(rssOf(sup.pid).rss)}`,
          );
        }
      };
      while (queued < checkpoint) {
        if (inFlight.length >= 2) {
          try {
            await confirm();
          } catch (e) {
            // Meilisearch killed by its supervisor (unresponsive for 30 s on a loaded machine) or
            // failed: wait, then go on from the last confirmed batch.
            console.log(`  ${new Date().toISOString().slice(11, 19)} batch failed (${(e as Error).message}); resuming from ${progress.pages} pages`);
            await Promise.allSettled(inFlight.splice(0).map((b) => b.done));
            await idle();
            item = progress.nextItem;
            queued = progress.pages;
            started = performance.now();
            continue;
          }
        }
        const batch: StoredItem[] = [];
        let n = 0;
        while (n < BATCH_PAGES && queued + n < checkpoint) {
          const it = makeItem(item++);
          batch.push(it);
          n += it.meta.pageCount;
        }
        queued += n;
        const done = svc.indexItems(batch);
        done.catch(() => undefined);
        inFlight.push({ done, nextItem: item, pages: queued });
      }
      while (inFlight.length) await confirm();
      const seconds = progress.seconds - fromSec;
      progress.reached[checkpoint] = { pagesPerSec: (progress.pages - fromPages) / seconds, seconds };
      saveProgress();
    }
    const at = progress.reached[checkpoint];
    const items = progress.nextItem;
    const rss = rssOf(sup.pid);
    // LMDB grows its file for copy-on-write pages of batches and reuses them later: used < on disk.
    const st = await fetch(`${conn.host}/stats`, { headers: { Authorization: `Bearer ${conn.apiKey}` } })
      .then((r) => r.json() as Promise<{ databaseSize?: number; usedDatabaseSize?: number }>)
      .catch(() => ({}) as { databaseSize?: number; usedDatabaseSize?: number });
    console.log(
      `\n=== ${progress.pages} pages in ${items} items: index ${gb(duBytes(join(dir, 'meili')))} on disk${st.usedDatabaseSize ? `, ${gb(st.usedDatabaseSize)} of it used` : ''} (+ page-text files ${gb(duBytes(join(dir, 'texts')))}); ` +
        `meilisearch RSS ${gb(rss.rss)} (peak seen ${gb(Math.max(peakRss, rss.hwm))}); indexing ${at ? `${at.pagesPerSec.toFixed(0)} pages/s over the last stretch (${at.seconds.toFixed(0)} s)` : 'not timed (kept)'}`,
    );
    if (INDEX_ONLY) continue;
    await logIn();

    // ---- query classes ----
    const qrand = rng(checkpoint);
    const samplePage = () => {
      const it = makeItem(Math.floor(qrand() * items));
      return it.pages[Math.floor(qrand() * it.pages.length)].text.replace(/\n/g, '');
    };
    const substring = (len: number) => {
      for (;;) {
        const t = samplePage();
        const a = Math.floor(qrand() * (t.length - len));
        const q = t.slice(a, a + len);
        if (parseQuery(q).terms.length === 1 && parseQuery(q).terms[0].chars.length === len) return q;
      }
    };
    const classes: Array<{ name: string; queries: string[] }> = [
      { name: '工作/管理', queries: ['工作', '管理'] },
      { name: '2014', queries: ['2014'] },
      { name: 'rare 4-6', queries: Array.from({ length: 40 }, () => substring(4 + Math.floor(qrand() * 3))) },
      { name: 'two terms', queries: Array.from({ length: 40 }, (_, i) => `${['工作', '管理', '档案'][i % 3]} ${substring(3)}`) },
    ];
    for (const cls of classes) {
      if (CLASSES && !CLASSES.some((c) => cls.name.startsWith(c))) continue;
      let hits = 0;
      for (const q of cls.queries) hits += (await svc.search(viewers[0], { q, limit: 20 })).total;
      const cases = Array.from({ length: REQUESTS }, (_, i) => ({ q: cls.queries[i % cls.queries.length], v: viewers[(i * 7 + 3) % viewers.length] }));
      const rawReqs: HttpReq[] = cases.map((c) => {
        const body = JSON.stringify({
          q: parseQuery(c.q)
            .terms.map((t) => t.phrase)
            .join(' '),
          matchingStrategy: 'all',
          filter: accessFilter(c.v),
          facets: ['year', 'fonds', 'department', 'retention'],
          limit: 20,
          attributesToRetrieve: ['itemId', 'archivalCode', 'title', 'docNumber', 'responsible', 'year', 'fonds', 'department', 'retention', 'pageCount', 'contentHash'],
        });
        return {
          host: meili.hostname,
          port: Number(meili.port),
          path: '/indexes/items/search',
          method: 'POST',
          headers: { Authorization: `Bearer ${conn.apiKey}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
          body,
        };
      });
      const apiReqs: HttpReq[] = cases.map((c) => ({ host: '127.0.0.1', port, path: `/api/search?q=${encodeURIComponent(c.q)}&limit=20`, method: 'GET', headers: { cookie: cookieOf.get(c.v)! } }));
      // Warm up (tokens, the OS's page cache) before timing.
      const warm = Math.min(40, REQUESTS);
      await viaLoad(4, rawReqs.slice(0, warm));
      await run(
        4,
        cases.slice(0, warm).map((c) => () => svc.search(c.v, { q: c.q, limit: 20 })),
      );
      await viaLoad(4, apiReqs.slice(0, warm));
      console.log(`\n[${cls.name}] ${cls.queries.length} distinct queries, mean ${(hits / cls.queries.length).toFixed(0)} items found for one viewer; ms p50 / p95 / p99; ratio = p95 / raw p95`);
      console.log('clients  raw meilisearch         service                 GET /api/search         service/raw  api/raw');
      const half = Math.ceil(rawReqs.length / 2);
      const cpu: string[] = [];
      for (const c of [1, 8, 32]) {
        // Raw in two halves around the others, so drift on the shared CPU hits both sides.
        let at = cpuNow();
        const r1 = await viaLoad(c, rawReqs.slice(0, half));
        const cr = cpuSince(at, half);
        at = cpuNow();
        const s1 = await run(
          c,
          cases.map((x) => () => svc.search(x.v, { q: x.q, limit: 20 })),
        );
        const cs = cpuSince(at, cases.length);
        at = cpuNow();
        const k1 = await viaLoad(c, apiReqs);
        const ck = cpuSince(at, apiReqs.length);
        const r2 = await viaLoad(c, rawReqs.slice(half));
        const g = (x: { meili: number; server: number }) => `${x.meili.toFixed(1)} + ${x.server.toFixed(1)}`.padEnd(24);
        cpu.push(`${String(c).padEnd(9)}${g(cr)}${g(cs)}${g(ck)}`);
        const r = [...r1, ...r2];
        const f = (xs: number[]) => `${pct(xs, 50).toFixed(1)} / ${pct(xs, 95).toFixed(1)} / ${pct(xs, 99).toFixed(1)}`.padEnd(24);
        const ratio = (xs: number[]) => (pct(xs, 95) / pct(r, 95)).toFixed(2).padEnd(13);
        console.log(`${String(c).padEnd(9)}${f(r)}${f(s1)}${f(k1)}${ratio(s1)}${ratio(k1)}`);
      }
      // What each request costs, whatever else runs on the machine (10 ms clock ticks over the requests of a row).
      console.log('CPU ms per request, meilisearch + this process without its clients:');
      for (const line of cpu) console.log(line);
    }
  }
  await load.terminate();
} finally {
  clearInterval(rssTimer);
  server?.close();
  await sup.stop();
  if (!KEEP) await cleanup(dir);
}
