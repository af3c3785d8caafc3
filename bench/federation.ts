// bench/federation: p50/p95 of one federated query across 4 and 13 simulated offices — each a real
// Meilisearch with `--pages` synthetic pages in its shared index, behind a real federation endpoint
// (mutual TLS) and reached through the asking office's real loopback relay, joined with real signed
// invitations — beside the same query against one Meilisearch holding all their pages. Sequential
// queries (one person searching). Prints figures and ratios; asserts nothing.
//   npx tsx bench/federation.ts [--pages 20000] [--offices 4,13] [--requests 200]
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../core/config.ts';
import { invite, join as joinFile, startFederation, type FederationService } from '../federation/index.ts';
import { loadOrCreateIdentity } from '../federation/identity.ts';
import { readPeers } from '../federation/peers.ts';
import { callPeer } from '../federation/relay.ts';
import { Agent } from 'node:https';
import { SHARED_SETTINGS } from '../search/index.ts';
import { openSecurity } from '../security/index.ts';
import { cleanup, tempDir } from '../test/support/appliance.ts';
import { rng, startMeili, type MeiliHandle } from '../test/search/support.ts';
import { groundTruthSentences, syntheticPageText } from './synthetic-corpus.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const PAGES = Number(arg('pages', '20000'));
const SIZES = arg('offices', '4,13')
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const REQUESTS = Number(arg('requests', '200'));
const MAX = SIZES[SIZES.length - 1];

const rand = rng(7);
const sentences = groundTruthSentences();
const log = pino({ level: 'silent' });

interface Office {
  code: string;
  cfg: Config;
  meili: MeiliHandle;
  fed?: FederationService;
}

async function api(m: MeiliHandle, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`${m.conn.host}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${m.conn.apiKey}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return r.json().catch(() => undefined);
}

async function settled(m: MeiliHandle): Promise<void> {
  for (;;) {
    const t = (await api(m, 'GET', '/tasks?statuses=enqueued,processing&limit=1')) as { total: number };
    if (t.total === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function pagesOf(office: string): Array<Record<string, unknown>> {
  return Array.from({ length: PAGES }, (_, i) => ({
    id: `${office}-P${i}`,
    kind: 'page',
    itemId: `${office}-I${Math.floor(i / 4)}`,
    office,
    scope: 'all',
    classificationRank: 0,
    page: (i % 4) + 1,
    text: syntheticPageText(sentences, rand),
  }));
}

async function fill(m: MeiliHandle, docs: Array<Record<string, unknown>>): Promise<void> {
  await api(m, 'PATCH', '/indexes/shared/settings', SHARED_SETTINGS);
  for (let i = 0; i < docs.length; i += 5000) await api(m, 'POST', '/indexes/shared/documents?primaryKey=id', docs.slice(i, i + 5000));
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const root = await tempDir('archive-bench-fed-');
const offices: Office[] = [];
const baselines = new Map<number, MeiliHandle>();
try {
  const t0 = Date.now();
  const corpora: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < MAX; i++) {
    const code = `O${String(i).padStart(2, '0')}`;
    const dir = join(root, code);
    const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dir, ARCHIVE_OFFICE_CODE: code, ARCHIVE_OFFICE_NAME: `单位${code}`, ARCHIVE_FEDERATION_ADDR: '127.0.0.1:0' } });
    const meili = await startMeili({ dir });
    offices.push({ code, cfg, meili });
    corpora.push(pagesOf(code));
    await fill(meili, corpora[i]);
  }
  for (const n of SIZES) {
    const m = await startMeili({ dir: join(root, `single-${n}`) });
    baselines.set(n, m);
    await fill(m, corpora.slice(0, n).flat());
  }
  corpora.length = 0;
  // Endpoints on free ports first (the address each invitation names is the one it got).
  for (const o of offices) {
    o.fed = await startFederation({ cfg: o.cfg, conn: o.meili.conn, audit: (await openSecurity(o.cfg)).audit, log });
    o.cfg.federation.addr = o.fed.endpointAddr;
  }
  // The asking office (O00, the city) joins every other one as its 下级, by the invitation files.
  const [city, ...peers] = offices;
  for (const p of peers) {
    const inv = await invite(city.cfg, 'child');
    const j = await joinFile(p.cfg, p.meili.conn, Buffer.from(inv.file));
    await joinFile(city.cfg, city.meili.conn, Buffer.from(j.reply!));
  }
  for (const o of offices) await o.fed!.reload();
  for (const m of [...offices.map((o) => o.meili), ...baselines.values()]) await settled(m);
  console.log(`setup: ${MAX} offices × ${PAGES} pages, baselines ${SIZES.map((n) => `${n * PAGES}`).join(' / ')} pages, ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const words = Array.from({ length: REQUESTS }, () => {
    const s = sentences[Math.floor(rand() * sentences.length)].replace(/[^\p{Script=Han}]/gu, '');
    const at = Math.floor(rand() * Math.max(1, s.length - 4));
    return s.slice(at, at + 4);
  });
  const query = (q: string) => ({ indexUid: 'shared', q, filter: 'kind = "page"', attributesToRetrieve: ['id', 'itemId', 'office', 'page'] });
  const time = async (m: MeiliHandle, body: unknown) => {
    const s = performance.now();
    const r = await api(m, 'POST', '/multi-search', body);
    const ms = performance.now() - s;
    return { ms, r };
  };

  console.log('offices  pages(total)  federated p50/p95 ms   single p50/p95 ms   ratio p50  ratio p95  remote errors');
  for (const n of SIZES) {
    const remotes = offices.slice(0, n).map((o) => o.code);
    const fedBody = (q: string) => ({ federation: { limit: 20 }, queries: remotes.map((remote) => ({ ...query(q), federationOptions: { remote } })) });
    const oneBody = (q: string) => ({ federation: { limit: 20 }, queries: [query(q)] });
    // Warm-up: tokens fetched, connections and caches warm.
    for (const q of words.slice(0, 10)) {
      await time(city.meili, fedBody(q));
      await time(baselines.get(n)!, oneBody(q));
    }
    const fed: number[] = [];
    const one: number[] = [];
    let errors = 0;
    for (const q of words) {
      // Interleaved, so machine load falls on both columns alike.
      const f = await time(city.meili, fedBody(q));
      fed.push(f.ms);
      errors += Object.keys(f.r?.remoteErrors ?? {}).length;
      one.push((await time(baselines.get(n)!, oneBody(q))).ms);
    }
    const [f50, f95, o50, o95] = [pct(fed, 50), pct(fed, 95), pct(one, 50), pct(one, 95)];
    console.log(
      `${String(n).padStart(7)}  ${String(n * PAGES).padStart(12)}  ${f50.toFixed(1).padStart(9)} / ${f95.toFixed(1).padEnd(9)} ${o50.toFixed(1).padStart(8)} / ${o95.toFixed(1).padEnd(8)} ${(f50 / o50).toFixed(2).padStart(9)}× ${(f95 / o95).toFixed(2).padStart(8)}×  ${errors}`,
    );
  }
  console.log('(target: p95 at 13 offices within 2× of the single appliance)');

  // Where a remote's time goes: one peer's endpoint called directly as the relay calls it (mutual
  // TLS on a kept connection, the answering side's audit record, its Meilisearch), beside that
  // peer's Meilisearch called directly with the same token.
  const id = await loadOrCreateIdentity(city.cfg.dataDir, city.code);
  const peer = (await readPeers(city.cfg.dataDir)).peers.find((p) => p.code === peers[0].code)!;
  const agent = new Agent({ keepAlive: true });
  const cred = JSON.parse((await callPeer(id, peer, '/federation/credential', '{}', {}, Date.now() + 10_000, agent)).body.toString()) as { token: string };
  const viaEndpoint: number[] = [];
  const direct: number[] = [];
  for (const q of words) {
    const body = JSON.stringify({ federation: { limit: 20 }, queries: [query(q)] });
    let s = performance.now();
    await callPeer(id, peer, '/multi-search', body, { authorization: `Bearer ${cred.token}`, 'meili-proxy-search': 'true' }, Date.now() + 10_000, agent);
    viaEndpoint.push(performance.now() - s);
    s = performance.now();
    await fetch(`${peers[0].meili.conn.host}/multi-search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cred.token}`, 'meili-proxy-search': 'true' },
      body,
    });
    direct.push(performance.now() - s);
  }
  agent.destroy();
  console.log(
    `one peer: through its endpoint p50/p95 ${pct(viaEndpoint, 50).toFixed(1)} / ${pct(viaEndpoint, 95).toFixed(1)} ms; its Meilisearch directly ${pct(direct, 50).toFixed(1)} / ${pct(direct, 95).toFixed(1)} ms`,
  );
} finally {
  for (const o of offices) {
    await o.fed?.stop().catch(() => undefined);
    await o.meili.stop().catch(() => undefined);
  }
  for (const m of baselines.values()) await m.stop().catch(() => undefined);
  await cleanup(root);
}
