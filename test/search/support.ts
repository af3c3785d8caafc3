import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Classification } from '../../core/config.ts';
import { MeiliSupervisor } from '../../appliance/meili-supervisor.ts';
import type { MeiliConnection } from '../../core/meili-connection.ts';
import { ensureDataDir } from '../../core/data-dir.ts';
import type { ItemMetadata, PageText, Retention } from '../../core/item.ts';
import type { StoredItem } from '../../search/index.ts';
import { SHARED, cleanup, tempDir } from '../support/appliance.ts';
import { seeded } from '../support/prng.ts';

export interface MeiliHandle {
  dir: string;
  conn: MeiliConnection;
  stop(): Promise<void>;
}

/** A real Meilisearch on a free loopback port in a temp data dir (or the given one, kept on stop). */
export async function startMeili(opts: { dir?: string } = {}): Promise<MeiliHandle> {
  const dir = opts.dir ?? (await tempDir('archive-search-'));
  await ensureDataDir(dir);
  const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dir, ARCHIVE_MEILI_PORT: '0' } });
  const sup = new MeiliSupervisor(cfg, pino({ level: 'silent' }));
  await sup.start();
  return {
    dir,
    conn: sup.connection,
    stop: async () => {
      await sup.stop();
      if (!opts.dir) await cleanup(dir);
    },
  };
}

/** One request to a Meilisearch's own API (the admin key unless another is given): its status and JSON answer. */
export async function meiliApi(m: { conn: MeiliConnection }, method: string, path: string, body?: unknown, key = m.conn.apiKey): Promise<{ status: number; json: any }> {
  const r = await fetch(`${m.conn.host}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => undefined) };
}

/** Until the latest 20 tasks of a Meilisearch have all finished (succeeded, failed or canceled). */
export async function meiliSettled(m: { conn: MeiliConnection }): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const t = (await meiliApi(m, 'GET', '/tasks?limit=20')).json.results as Array<{ status: string }>;
    if (t.every((x) => x.status === 'succeeded' || x.status === 'failed' || x.status === 'canceled')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('tasks did not settle');
}

/**
 * A stored item for the search tests: `meta` over the defaults (2014, 保管期限 Y, 内部, no originals,
 * created 2026-11-01), one 100×100 OCR page per text, each with the given confidence.
 */
export function textItem(meta: Pick<ItemMetadata, 'itemId' | 'archivalCode' | 'fonds' | 'title' | 'posts'> & Partial<ItemMetadata>, texts: string[], confidence = 90): StoredItem {
  return {
    meta: {
      year: 2014,
      retention: 'Y',
      classification: '内部',
      pageCount: texts.length,
      originals: [],
      createdAt: '2026-11-01T00:00:00Z',
      updatedAt: '2026-11-01T00:00:00Z',
      ...meta,
    },
    pages: texts.map((text, i) => ({ page: i + 1, width: 100, height: 100, dpi: 300, rotation: 0, text, confidence, lines: [], source: 'ocr' })),
  };
}

interface GtFile {
  item_id: string;
  metadata: { archive_code: string; year: number; title: string; classification: string; doc_number: string | null; issuer: string | null; date: string };
  pages: Array<{ page: number; lines: string[] }>;
}

export interface GtItem extends StoredItem {
  lines: string[][];
}

/** The samples' ground truth as stored items: page text = the printed lines joined by \n. */
export function loadGroundTruth(posts: (id: string) => string[] = () => ['ZH'], classification?: (id: string) => Classification): GtItem[] {
  const dir = join(SHARED, 'samples', 'gt');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const gt = JSON.parse(readFileSync(join(dir, f), 'utf8')) as GtFile;
      const [fonds, , retention, department] = gt.metadata.archive_code.split('-');
      const pages: PageText[] = gt.pages.map((p) => ({
        page: p.page,
        width: 2480,
        height: 3508,
        dpi: 300,
        rotation: 0,
        text: p.lines.join('\n'),
        confidence: 100,
        lines: [],
        source: 'ocr',
      }));
      const meta: ItemMetadata = {
        itemId: gt.item_id,
        archivalCode: gt.metadata.archive_code,
        fonds,
        year: gt.metadata.year,
        retention: retention as Retention,
        department,
        title: gt.metadata.title,
        docNumber: gt.metadata.doc_number ?? undefined,
        responsible: gt.metadata.issuer ?? undefined,
        date: gt.metadata.date,
        classification: classification?.(gt.item_id) ?? (gt.metadata.classification as Classification),
        posts: posts(gt.item_id),
        pageCount: pages.length,
        originals: [],
        createdAt: '2026-11-01T00:00:00Z',
        updatedAt: '2026-11-01T00:00:00Z',
      };
      return { meta, pages, lines: gt.pages.map((p) => p.lines) };
    });
}

/** Deterministic PRNG (mulberry32) so sampled queries are the same on every run. */
export const rng = seeded;
