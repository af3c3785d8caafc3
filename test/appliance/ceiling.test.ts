import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type Router from '@koa/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { healthReport } from '../../core/health.ts';
import { createLogger } from '../../core/log.ts';
import { createIngestService, ItemStore, JobStore } from '../../ingest/index.ts';
import { createSearchService } from '../../search/index.ts';
import { openSecurity, verifyAudit } from '../../security/index.ts';
import { createAuth } from '../../web/auth.ts';
import { createWebApp } from '../../web/index.ts';
import { ROOT, SHARED, cleanup, runCli as runCliWith, tempDir } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';

const SAMPLES = join(SHARED, 'samples/items');

/** The appliance's default ceiling (内部), whatever this shell has set. */
const runCli = (args: string[], env: Record<string, string>) => runCliWith(args, env, ['ARCHIVE_CEILING', 'ARCHIVE_CONFIG']);

async function auditRecords(dataDir: string): Promise<Array<{ action: string; outcome: string; actor: string; target: string; details: Record<string, unknown> }>> {
  const files = (await readdir(join(dataDir, 'audit'))).filter((f) => f.endsWith('.jsonl'));
  const text = (await Promise.all(files.map((f) => readFile(join(dataDir, 'audit', f), 'utf8')))).join('');
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('classification ceiling (内部 appliance, real clamd and Meilisearch)', () => {
  let clamd: TestClamd;
  let work: string;
  beforeAll(async () => {
    clamd = await startTestClamd();
    work = await tempDir('archive-ceiling-');
  });
  afterAll(async () => {
    await clamd?.stop();
    await cleanup(work);
  });

  it('refuses a 秘密 item from the CLI before OCR, says why, and audits it', async () => {
    const dataDir = join(work, 'data-cli');
    const r = await runCli(['ingest', join(SAMPLES, 'S0005.pdf'), '--classification', '秘密', '--posts', 'BGS', '--json'], {
      ARCHIVE_DATA_DIR: dataDir,
      ARCHIVE_CLAMD: clamd.address,
      ARCHIVE_MEILI_PORT: '0',
      ARCHIVE_LOG_LEVEL: 'warn',
    });
    expect(r.code, r.err).toBe(1);
    const res = JSON.parse(r.out.trim().split('\n').pop()!) as { ok: boolean; items: Array<{ label: string; outcome: string; pages?: number; error?: { code: string; message: string } }> };
    expect(res.ok).toBe(false);
    expect(res.items).toHaveLength(1);
    expect(res.items[0]).toMatchObject({ label: 'S0005.pdf', outcome: 'refused', error: { code: 'ABOVE_CEILING' } });
    expect(res.items[0].error!.message).toContain('密级“秘密”高于本设备允许的最高密级“内部”');
    // Refused at the gate: no page was read, nothing stored.
    const [job] = await new JobStore(dataDir).list();
    expect(job.items[0]).toMatchObject({ outcome: 'refused', pagesDone: 0 });
    expect((await ItemStore.open(dataDir)).count).toBe(0);
    const refused = (await auditRecords(dataDir)).filter((x) => x.action === 'ingest.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ outcome: 'denied', actor: 'console', target: 'S0005.pdf', details: { reason: 'above-ceiling', classification: '秘密', ceiling: '内部' } });
    expect((await verifyAudit(join(dataDir, 'audit'))).ok).toBe(true);
  });

  it('refuses a CSV with a 秘密 row: nothing queued, the line named, and audited', async () => {
    const batch = join(work, 'batch');
    await mkdir(batch, { recursive: true });
    await copyFile(join(SAMPLES, 'S0005.pdf'), join(batch, 'a.pdf'));
    await copyFile(join(SAMPLES, 'S0005.pdf'), join(batch, 'b.pdf'));
    await writeFile(join(batch, 'items.csv'), '文件,档号,题名,密级,岗位\na.pdf,J012-2014-Y-BGS-0001,公开件,公开,BGS\nb.pdf,J012-2014-Y-BGS-0002,涉密件,秘密,BGS\n');
    const dataDir = join(work, 'data-csv');
    const r = await runCli(['ingest', batch, '--manifest', join(batch, 'items.csv'), '--posts', 'BGS'], {
      ARCHIVE_DATA_DIR: dataDir,
      ARCHIVE_CLAMD: clamd.address,
      ARCHIVE_MEILI_PORT: '0',
      ARCHIVE_LOG_LEVEL: 'warn',
    });
    expect(r.code).toBe(1);
    expect(r.err).toContain('CSV_INVALID');
    expect(r.err).toContain('第 3 行“密级”（第 4 列）：密级“秘密”高于本设备允许的最高密级“内部”，不得导入本网络');
    expect(await new JobStore(dataDir).list()).toEqual([]);
    expect((await ItemStore.open(dataDir)).count).toBe(0);
    const refused = (await auditRecords(dataDir)).filter((x) => x.action === 'ingest.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ outcome: 'denied', target: join(batch, 'items.csv'), details: { reason: 'above-ceiling', ceiling: '内部', lines: [3] } });
  });

  it('cannot be raised from the web UI: no route touches it and no web code writes it', async () => {
    const dataDir = join(work, 'data-web');
    const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dataDir } });
    expect(cfg.classificationCeiling).toBe('内部');
    const log = createLogger({ level: 'silent' });
    const sec = await openSecurity(cfg);
    const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log });
    // Never initialised: the search service is only needed so its routes get registered.
    const search = createSearchService({ host: 'http://127.0.0.1:9', apiKey: 'unused' }, dataDir);
    const ingest = await createIngestService(cfg, { log, audit: sec.audit, search });
    const app = createWebApp({ log, auth, search, ingest, uploadDir: join(dataDir, 'run', 'uploads'), health: () => healthReport({}) });
    const router = app.middleware.map((m) => (m as unknown as { router?: Router }).router).find(Boolean)!;
    expect(router).toBeDefined();
    const routes = router.stack.map((l) => `${l.methods.filter((m) => m !== 'HEAD').join(',')} ${l.path}`);
    expect(routes.length).toBeGreaterThan(10);
    expect(routes).toContain('POST /api/ingest/upload');
    for (const r of routes) expect(r).not.toMatch(/ceiling|config/i);

    // The ceiling is read from the config file or environment at start; only core/config.ts sets it.
    const sources: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(dir, e.name));
        else if (e.name.endsWith('.ts')) sources.push(join(dir, e.name));
      }
    };
    for (const d of ['core', 'ingest', 'search', 'security', 'custody', 'web', 'appliance']) await walk(join(ROOT, d));
    const writers: string[] = [];
    for (const f of sources) {
      const text = await readFile(f, 'utf8');
      if (/\bclassificationCeiling\s*=(?![=>])|\[['"]classificationCeiling['"]\]\s*=(?![=>])/.test(text)) writers.push(relative(ROOT, f));
    }
    expect(writers).toEqual(['core/config.ts']);
    await ingest.stop();
  });
});
