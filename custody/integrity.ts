import { readdir, readFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { ApplianceError, type Config, dataPath, ensureDataDir, writeFileAtomic, classificationRank, type ItemMetadata } from '../core/index.ts';
import { ITEM_ID, ItemStore, listTree } from '../ingest/index.ts';
import type { ConsistencyReport, SearchService, StoredItem } from '../search/index.ts';
import { AuditLog, type AuditEntry, verifyAudit, scanFile, SIGNATURE_MAX_AGE_DAYS, clamdSignatures, type SignatureStatus } from '../security/index.ts';

/**
 * The integrity report (四性检测) of electronic records: authenticity 真实性, completeness 完整性,
 * usability 可用性, security 安全性. Per item one status, worst first: missing > changed >
 * untracked > unusable > unsafe > ok; every problem names the item and the file.
 */
export type ItemStatus = 'ok' | 'changed' | 'missing' | 'untracked' | 'unusable' | 'unsafe';
const SEVERITY: ItemStatus[] = ['missing', 'changed', 'untracked', 'unusable', 'unsafe', 'ok'];
/** The statuses as the report names them (it is read by people, in Chinese). */
export const ITEM_STATUS_ZH: Record<ItemStatus, string> = { ok: '正常', changed: '被改动', missing: '缺失', untracked: '未登记', unusable: '不可用', unsafe: '不安全' };

export interface ItemCheck {
  itemId: string;
  archivalCode?: string;
  status: ItemStatus;
  problems: string[];
}

export interface IntegrityReport {
  ok: boolean;
  startedAt: string;
  finishedAt: string;
  ms: number;
  counts: Record<ItemStatus, number> & { total: number };
  authenticity: { ok: boolean; audit: { ok: boolean; records: number; firstBroken?: string } };
  completeness: {
    ok: boolean;
    untrackedPaths: string[];
    gaps: Array<{ series: string; missing: string[] }>;
    index: (Omit<ConsistencyReport, 'ok'> & { ok: boolean }) | { ok: boolean; skipped: string };
  };
  usability: { ok: boolean };
  security: {
    ok: boolean;
    scanned: number | null;
    infected: Array<{ itemId: string; path: string; signature: string }>;
    aboveCeiling: string[];
    signatures: (SignatureStatus & { maxAgeDays: number; stale: boolean }) | { unavailable: string };
  };
  /** Items with any problem (ok items are only counted). */
  items: ItemCheck[];
  /** Every item id seen on disk, so the next check can name an item that vanished entirely. */
  itemIds: string[];
  problems: string[];
  warnings: string[];
}

export interface IntegrityOptions {
  /** Compare the search index with the store (the appliance's or a console Meilisearch). */
  search?: SearchService;
  /** Full ClamAV re-scan of every stored file. */
  scan?: boolean;
  maxSignatureAgeDays?: number;
  actor?: Pick<AuditEntry, 'actor' | 'role' | 'source'>;
  /** The running appliance's item store (one per process: a second would rebuild its index under it). */
  store?: ItemStore;
}

export const integrityLatestPath = (dataDir: string) => dataPath(dataDir, 'config', 'integrity-latest.json');

const PAGE = /^pages\/(\d{4,6})\.(jpg|png)$/;

/** Ids the store knew of before this check: its index file and the last report (read before the store rebuilds anything). */
async function expectedIds(dataDir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const text = await readFile(dataPath(dataDir, 'items', 'index.jsonl'), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    try {
      const id = (JSON.parse(line) as { id?: unknown }).id;
      if (typeof id === 'string' && ITEM_ID.test(id)) ids.add(id);
    } catch {
      /* a torn line: the other sources still name the item */
    }
  }
  const last = await readFile(integrityLatestPath(dataDir), 'utf8').then(
    (t) => JSON.parse(t) as Partial<IntegrityReport>,
    () => undefined,
  );
  for (const id of last?.itemIds ?? []) if (ITEM_ID.test(id)) ids.add(id);
  return ids;
}

/** Anything under items/ that is not an item folder or the store's own bookkeeping. */
async function untrackedInStore(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (name === '.tmp' || name === 'index.jsonl' || name === '.index-dirty') continue;
    const st = await lstat(join(root, name));
    if (!st.isDirectory() || !/^[0-9a-z_-]{2}$/.test(name)) {
      out.push(`items/${name}`);
      continue;
    }
    for (const id of await readdir(join(root, name))) {
      const s = await lstat(join(root, name, id));
      if (!s.isDirectory() || !ITEM_ID.test(id) || id.slice(-2) !== name) out.push(`items/${name}/${id}`);
    }
  }
  return out.sort();
}

async function pdfPages(path: string): Promise<number> {
  const doc = await PDFDocument.load(await readFile(path), { updateMetadata: false });
  return doc.getPageCount();
}

interface ItemWork {
  check: ItemCheck;
  meta?: ItemMetadata;
}

async function checkItem(store: ItemStore, id: string, cfg: Config, opts: IntegrityOptions, infected: IntegrityReport['security']['infected']): Promise<ItemWork> {
  const found = new Map<ItemStatus, string[]>();
  const add = (s: ItemStatus, p: string) => found.set(s, [...(found.get(s) ?? []), p]);
  const v = await store.verifyItem(id);
  for (const f of v.changed) add('changed', `文件内容被改动：${f}`);
  for (const f of v.missing) add('missing', `文件缺失：${f}`);
  for (const f of v.untracked) add('untracked', `多出未登记的文件：${f}`);
  let meta: ItemMetadata | undefined;
  try {
    meta = await store.getItem(id);
  } catch {
    add('changed', 'item.json 无法解析');
  }
  const dir = store.itemDir(id);
  if (meta) {
    // Metadata must describe the content: page count, page files, text pages and originals agree.
    const listing = await listTree(dir);
    const pages = listing.files.filter((f) => PAGE.test(f)).length;
    if (pages !== meta.pageCount) add('changed', `元数据页数 ${meta.pageCount} 与页面图像数 ${pages} 不符`);
    const text = await store.readText(id).catch(() => undefined);
    if (!Array.isArray(text)) add('changed', 'text.json 无法读取');
    else if (text.length !== meta.pageCount) add('changed', `元数据页数 ${meta.pageCount} 与 text.json 的 ${text.length} 页不符`);
    for (const o of meta.originals) if (!listing.files.includes(`original/${o.name}`)) add('missing', `原件缺失：original/${o.name}`);
    try {
      const n = await pdfPages(store.documentPath(id));
      if (n !== meta.pageCount) add('unusable', `document.pdf 有 ${n} 页，应为 ${meta.pageCount} 页`);
    } catch {
      add('unusable', 'document.pdf 无法打开（文件已损坏或不是有效的 PDF）');
    }
    if (classificationRank(meta.classification) > classificationRank(cfg.classificationCeiling)) add('unsafe', `密级“${meta.classification}”高于本机上限“${cfg.classificationCeiling}”`);
    if (opts.scan) {
      for (const f of listing.files) {
        try {
          const r = await scanFile(cfg.clamd, join(dir, f));
          if (r.verdict === 'infected') {
            infected.push({ itemId: id, path: f, signature: r.signature });
            add('unsafe', `发现病毒 ${r.signature}：${f}`);
          }
        } catch (e) {
          // Not scanned is never "clean" (Archivematica's rule): it is a problem of its own.
          add('unsafe', `未能扫描 ${f}（${e instanceof ApplianceError ? e.zh : ((e as { code?: string }).code ?? '扫描出错')}）`);
        }
      }
    }
  }
  const status = SEVERITY.find((s) => found.has(s)) ?? 'ok';
  return { check: { itemId: id, ...(meta?.archivalCode ? { archivalCode: meta.archivalCode } : {}), status, problems: [...found.values()].flat() }, meta };
}

/**
 * 件号 gaps within each 全宗-年度-保管期限-机构 series: numbers missing between the first and the
 * last 件号 archived. A series that starts past 0001 is not a gap but a note (`firstNo`): archives
 * are scanned in batches, and the 件 before the first one archived may simply not be scanned yet.
 * Whole items that vanish are found anyway, from the list of items registered before.
 */
export function seriesGaps(metas: Array<Pick<ItemMetadata, 'fonds' | 'year' | 'retention' | 'department' | 'itemNo'>>): Array<{ series: string; missing: string[]; firstNo: number }> {
  const series = new Map<string, Set<number>>();
  for (const m of metas) {
    if (!m.fonds || !m.year || !m.retention || !m.department || !m.itemNo) continue;
    const k = `${m.fonds}-${m.year}-${m.retention}-${m.department}`;
    if (!series.has(k)) series.set(k, new Set());
    series.get(k)!.add(m.itemNo);
  }
  const out: Array<{ series: string; missing: string[]; firstNo: number }> = [];
  for (const [k, nums] of [...series].sort()) {
    const sorted = [...nums].sort((a, b) => a - b);
    const first = sorted[0];
    const missing: string[] = [];
    for (let n = first + 1; n < sorted[sorted.length - 1] && missing.length < 1000; n++) if (!nums.has(n)) missing.push(`${k}-${String(n).padStart(4, '0')}`);
    if (missing.length || first > 1) out.push({ series: k, missing, firstNo: first });
  }
  return out;
}

async function* storedItems(store: ItemStore): AsyncGenerator<StoredItem> {
  for (const id of store.ids()) {
    const s = await store.loadStored(id).catch(() => undefined);
    if (s) yield s;
  }
}

/** Run the whole check, save it as config/integrity-latest.json and record it in the audit trail. */
export async function runIntegrityCheck(cfg: Config, opts: IntegrityOptions = {}): Promise<IntegrityReport> {
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  await ensureDataDir(cfg.dataDir);
  const expected = await expectedIds(cfg.dataDir);
  const store = opts.store ?? (await ItemStore.open(cfg.dataDir));
  const problems: string[] = [];
  const warnings: string[] = [];
  const infected: IntegrityReport['security']['infected'] = [];
  const checks: ItemCheck[] = [];
  const metas: ItemMetadata[] = [];
  const onDisk = store.ids();
  for (const id of onDisk) {
    const w = await checkItem(store, id, cfg, opts, infected);
    checks.push(w.check);
    if (w.meta) metas.push(w.meta);
  }
  const present = new Set(onDisk);
  const missingItem = (id: string, why: string) => {
    if (present.has(id) || checks.some((c) => c.itemId === id)) return;
    checks.push({ itemId: id, status: 'missing', problems: [`整个条目缺失（${why}）`] });
  };
  for (const id of expected) missingItem(id, '此前登记过，磁盘上已无此条目');

  const audit = await verifyAudit(dataPath(cfg.dataDir, 'audit'));
  if (!audit.ok) problems.push(`审计链断裂：${audit.firstBroken!.zh}`);
  const untrackedPaths = await untrackedInStore(store.root);
  for (const p of untrackedPaths) problems.push(`条目库中有未登记的内容：${p}`);
  const series = seriesGaps(metas);
  const gaps = series.filter((g) => g.missing.length).map(({ series: k, missing }) => ({ series: k, missing }));
  for (const g of gaps) problems.push(`件号不连续：${g.series} 缺 ${g.missing.slice(0, 20).join('、')}${g.missing.length > 20 ? ` 等 ${g.missing.length} 件` : ''}`);
  const later = series.filter((g) => g.firstNo > 1);
  if (later.length) {
    const named = later
      .slice(0, 10)
      .map((g) => `${g.series} 自 ${String(g.firstNo).padStart(4, '0')} 起`)
      .join('、');
    warnings.push(`${later.length} 个序列的件号不从 0001 开始（此前的件尚未归档，或已缺失）：${named}${later.length > 10 ? ' 等' : ''}`);
  }

  let index: IntegrityReport['completeness']['index'];
  if (opts.search) {
    const c = await opts.search.consistency(storedItems(store));
    index = c;
    for (const id of c.orphaned) missingItem(id, '检索索引中有此条目，条目库中没有');
    if (c.missing.length) problems.push(`检索索引缺少 ${c.missing.length} 个条目：${c.missing.slice(0, 10).join('、')}（运行 archive reindex）`);
    if (c.stale.length) problems.push(`检索索引中 ${c.stale.length} 个条目已过时：${c.stale.slice(0, 10).join('、')}（运行 archive reindex）`);
    if (c.orphaned.length) problems.push(`检索索引中有 ${c.orphaned.length} 个条目库中没有的条目：${c.orphaned.slice(0, 10).join('、')}`);
    if (c.orphanedPages.length) problems.push(`检索索引中有 ${c.orphanedPages.length} 个多余的页面文档`);
  } else {
    index = { ok: true, skipped: 'no search service' };
    warnings.push('未检查检索索引与条目库的一致性。');
  }

  const maxAgeDays = opts.maxSignatureAgeDays ?? SIGNATURE_MAX_AGE_DAYS;
  let signatures: IntegrityReport['security']['signatures'];
  try {
    const s = await clamdSignatures(cfg.clamd);
    const stale = s.ageDays !== undefined && s.ageDays > maxAgeDays;
    signatures = { ...s, maxAgeDays, stale };
    if (stale) warnings.push(`病毒库已 ${s.ageDays} 天未更新（上限 ${maxAgeDays} 天），请用 archive signatures import 导入新病毒库。`);
  } catch (e) {
    signatures = { unavailable: (e as Error).message };
    (opts.scan ? problems : warnings).push(`病毒扫描服务不可用，无法确认病毒库版本${e instanceof ApplianceError ? `：${e.zh}` : '。'}`);
  }

  const itemProblems = checks.filter((c) => c.status !== 'ok');
  for (const c of itemProblems) problems.push(`条目 ${c.archivalCode ?? c.itemId}（${c.itemId}）：${ITEM_STATUS_ZH[c.status]}：${c.problems.join('；')}`);
  const counts = { total: checks.length, ok: 0, changed: 0, missing: 0, untracked: 0, unusable: 0, unsafe: 0 } as IntegrityReport['counts'];
  for (const c of checks) counts[c.status]++;
  const aboveCeiling = metas.filter((m) => classificationRank(m.classification) > classificationRank(cfg.classificationCeiling)).map((m) => m.itemId);
  const report: IntegrityReport = {
    ok: problems.length === 0,
    startedAt,
    finishedAt: new Date().toISOString(),
    ms: Date.now() - t0,
    counts,
    authenticity: { ok: audit.ok && counts.changed === 0, audit: { ok: audit.ok, records: audit.records, ...(audit.firstBroken ? { firstBroken: audit.firstBroken.zh } : {}) } },
    completeness: { ok: counts.missing + counts.untracked === 0 && untrackedPaths.length === 0 && gaps.length === 0 && index.ok, untrackedPaths, gaps, index },
    usability: { ok: counts.unusable === 0 },
    security: { ok: counts.unsafe === 0 && !(opts.scan && 'unavailable' in signatures), scanned: opts.scan ? checks.length : null, infected, aboveCeiling, signatures },
    items: itemProblems,
    // Missing ones stay listed, so a vanished item is reported every day until it is restored.
    itemIds: checks.map((c) => c.itemId),
    problems,
    warnings,
  };
  await writeFileAtomic(integrityLatestPath(cfg.dataDir), JSON.stringify(report, null, 1));
  await new AuditLog(dataPath(cfg.dataDir, 'audit')).append({
    ...(opts.actor ?? { actor: 'system', role: 'system', source: 'scheduler' }),
    action: 'integrity.check',
    target: 'archive',
    outcome: report.ok ? 'success' : 'failure',
    details: {
      counts,
      scan: Boolean(opts.scan),
      auditOk: audit.ok,
      gaps: gaps.length,
      untrackedPaths: untrackedPaths.length,
      problems: problems.slice(0, 50),
      problemCount: problems.length,
      items: itemProblems.slice(0, 100).map((c) => ({ itemId: c.itemId, status: c.status })),
    },
  });
  return report;
}
