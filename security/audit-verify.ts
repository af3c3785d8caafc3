import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { GENESIS_HASH, recordHash, type AuditRecord, type AuditBreak } from './audit-record.ts';
import { LOCK_FILE, auditFiles, readHead, type AuditHead } from './audit-log.ts';
import { SEALS_FILE, readKeyState, type SealKeyState } from './audit-seal.ts';
import { checkSeals, readSeals, sealSummary, type SealCheck, type SealReport } from './audit-seal-verify.ts';
import { withFileLock } from '../core/index.ts';

interface Snapshot {
  files: string[];
  sizes: Map<string, number>;
  head?: AuditHead;
  /** seals.jsonl size at the snapshot (undefined: no such file). */
  sealsSize?: number;
  keyState?: SealKeyState | 'corrupt';
}

/**
 * Sizes and head taken together under the append lock (held only for a few stats), then the
 * files are read up to those sizes: a verify running beside the live appliance never mistakes a
 * line being appended for a broken one, and never holds up appends while it reads.
 */
async function snapshot(dir: string): Promise<Snapshot> {
  const take = async (): Promise<Snapshot> => {
    const files = (await auditFiles(dir)).map((f) => f.name);
    const sizes = new Map<string, number>();
    for (const f of files) sizes.set(f, (await stat(join(dir, f))).size);
    const sealsSize = await stat(join(dir, SEALS_FILE)).then(
      (st) => st.size,
      () => undefined,
    );
    const keyState = await readKeyState(dir).catch(() => 'corrupt' as const);
    return { files, sizes, head: await readHead(dir), sealsSize, keyState };
  };
  try {
    return await withFileLock(join(dir, LOCK_FILE), take);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // A read-only copy (a backup, a mounted medium): nobody appends there, read it as it is.
    if (code === 'EACCES' || code === 'EROFS' || code === 'ENOENT' || code === 'EPERM') return take();
    throw e;
  }
}

export type { AuditBreak } from './audit-record.ts';

export interface AuditVerifyOptions {
  /** The auditor's verification key(s) k0: with them every seal is proven, without them only the chain. */
  keys?: Buffer[];
  /** The live data dir: its sealing key file must be there (a backup copy has none). */
  requireSealKey?: boolean;
}

export interface AuditVerifyResult {
  ok: boolean;
  records: number;
  files: string[];
  head?: { seq: number; hash: string };
  /** What the seals prove; `seals.zh` says in plain words whether they were checked at all. */
  seals?: SealReport;
  /** The first broken record: where the chain stops being provable. */
  firstBroken?: { seq: number; file: string; line: number; kind: AuditBreak; zh: string; en: string };
}

const FIELDS: Array<[keyof AuditRecord, string]> = [
  ['seq', 'number'],
  ['time', 'string'],
  ['actor', 'string'],
  ['role', 'string'],
  ['source', 'string'],
  ['action', 'string'],
  ['target', 'string'],
  ['outcome', 'string'],
  ['details', 'object'],
  ['prev', 'string'],
  ['hash', 'string'],
];

function parseRecord(line: string): AuditRecord | undefined {
  try {
    const r = JSON.parse(line) as AuditRecord;
    if (!r || typeof r !== 'object') return undefined;
    for (const [k, t] of FIELDS) if (typeof r[k] !== t || r[k] === null) return undefined;
    return Number.isInteger(r.seq) ? r : undefined;
  } catch {
    return undefined;
  }
}

async function* lines(dir: string, files: string[], sizes?: Map<string, number>): AsyncGenerator<{ file: string; line: number; text: string }> {
  for (const file of files) {
    const size = sizes?.get(file);
    if (size === 0) continue;
    const input = createReadStream(join(dir, file), { encoding: 'utf8', ...(size === undefined ? {} : { start: 0, end: size - 1 }) });
    const rl = createInterface({ input, crlfDelay: Infinity });
    let n = 0;
    for await (const text of rl) {
      n++;
      yield { file, line: n, text };
    }
  }
}

/** Is record `seq` somewhere after the current position? Distinguishes a moved record from a missing one. */
async function seqLater(dir: string, snap: Snapshot, from: { file: string; line: number }, seq: number): Promise<boolean> {
  let past = false;
  for await (const l of lines(dir, snap.files, snap.sizes)) {
    if (!past) {
      past = l.file === from.file && l.line === from.line;
      continue;
    }
    if (parseRecord(l.text)?.seq === seq) return true;
  }
  return false;
}

/**
 * Prove the chain: every line parses, seq runs 1, 2, 3… without gaps across the yearly files,
 * each `prev` is the previous record's `hash`, each `hash` is the SHA-256 of its record, and the
 * last record is the one head.json names (so cutting records from the end shows too).
 */
export async function verifyAudit(dir: string, opts: AuditVerifyOptions = {}): Promise<AuditVerifyResult> {
  const snap = await snapshot(dir);
  const parsed = snap.sealsSize === undefined ? undefined : await readSeals(dir, snap.sealsSize);
  const chain = await verifyChain(dir, snap, new Set(parsed?.seals.map((x) => x.seal.seq)));
  const check: SealCheck = checkSeals({
    parsed,
    records: chain.records,
    chainOk: chain.ok,
    sealedHashes: chain.sealedHashes,
    keys: opts.keys ?? [],
    keyState: snap.keyState,
    requireSealKey: opts.requireSealKey ?? false,
    lastTime: chain.lastTime,
  });
  const { sealedHashes: _h, lastTime: _t, ...result } = chain;
  const seals = sealSummary(check);
  if (!result.ok) return { ...result, seals };
  if (check.broken) return { ...result, ok: false, seals, firstBroken: { ...check.broken, file: SEALS_FILE } };
  return { ...result, seals };
}

type ChainResult = AuditVerifyResult & { sealedHashes: Map<number, string>; lastTime?: string };

async function verifyChain(dir: string, snap: Snapshot, sealedSeqs: Set<number>): Promise<ChainResult> {
  const { files } = snap;
  const sealedHashes = new Map<number, string>();
  let lastTime: string | undefined;
  let expected = 1;
  let prev = GENESIS_HASH;
  let count = 0;
  let lastAt = { file: '', line: 0 };
  const seen = new Set<number>();
  const broken = (seq: number, at: { file: string; line: number }, kind: AuditBreak, zh: string, en: string): ChainResult => ({
    ok: false,
    records: count,
    files,
    sealedHashes,
    lastTime,
    firstBroken: { seq, file: at.file, line: at.line, kind, zh: `${at.file} 第 ${at.line} 行（记录 ${seq}）：${zh}`, en: `${at.file}:${at.line} (record ${seq}): ${en}` },
  });
  for await (const l of lines(dir, files, snap.sizes)) {
    const rec = parseRecord(l.text);
    if (!rec) return broken(expected, l, 'unparseable', '无法解析或缺少字段（记录被改动或插入了非法行）', 'not a valid audit record');
    if (rec.seq !== expected) {
      if (rec.seq < expected) {
        return seen.has(rec.seq)
          ? broken(rec.seq, l, 'inserted', `序号重复，记录 ${rec.seq} 出现两次（插入或复制了记录）`, `seq ${rec.seq} appears twice (inserted)`)
          : broken(rec.seq, l, 'reordered', `顺序错误：此处应为记录 ${expected}`, `out of order: expected seq ${expected}`);
      }
      if (await seqLater(dir, snap, l, expected))
        return broken(expected, l, 'reordered', `顺序错误：记录 ${expected} 被移到了后面（此处为记录 ${rec.seq}）`, `record ${expected} was moved later (found ${rec.seq} here)`);
      return broken(expected, l, 'deleted', `记录 ${expected}${rec.seq - 1 > expected ? `–${rec.seq - 1}` : ''} 缺失（被删除）`, `record(s) ${expected}..${rec.seq - 1} missing (deleted)`);
    }
    if (recordHash(rec) !== rec.hash) return broken(rec.seq, l, 'edited', '内容与其哈希不符（记录被改动）', 'content does not match its hash (edited)');
    if (rec.prev !== prev)
      return broken(
        rec.seq,
        l,
        'chain',
        `prev 与记录 ${rec.seq - 1} 的哈希不符（此前记录被改动并重算哈希，或记录被替换）`,
        `prev does not match hash of record ${rec.seq - 1} (replaced or re-hashed)`,
      );
    // The record head.json names must be that record, also when head.json is behind the file.
    if (snap.head && rec.seq === snap.head.seq && rec.hash !== snap.head.hash)
      return broken(rec.seq, l, 'head-mismatch', '与 head.json 记录的哈希不符（记录被替换，其后的链被重算）', 'hash differs from head.json (record replaced, chain re-computed after it)');
    seen.add(rec.seq);
    // Kept only where a seal points: the seals check compares them.
    if (sealedSeqs.has(rec.seq)) sealedHashes.set(rec.seq, rec.hash);
    lastTime = rec.time;
    prev = rec.hash;
    expected++;
    count++;
    lastAt = l;
  }
  const head: AuditHead | undefined = snap.head;
  const last = { seq: expected - 1, hash: prev };
  if (!head) {
    if (count === 0 && snap.sealsSize === undefined && !snap.keyState) return { ok: true, records: 0, files, sealedHashes, lastTime };
    if (count === 0)
      return broken(
        0,
        { file: 'head.json', line: 0 },
        'head-missing',
        '缺少 head.json，而封印文件或封印密钥在：审计记录被整体删除',
        'head.json missing while seals or the sealing key exist: the records were removed',
      );
    return broken(last.seq, lastAt, 'head-missing', '缺少 head.json，无法证明末尾记录未被删除', 'head.json missing: cannot prove the end was not cut');
  }
  if (head.seq > last.seq) {
    const at = lastAt.file ? { file: lastAt.file, line: lastAt.line + 1 } : { file: head.file, line: 1 };
    return broken(last.seq + 1, at, 'truncated', `末尾记录 ${last.seq + 1}–${head.seq} 缺失（被删除）`, `records ${last.seq + 1}..${head.seq} cut from the end`);
  }
  // head.json behind the file (records of the last HEAD_DELAY_MS, or a crash between the two
  // writes): the records after it are proven by the chain, the one it names was checked above.
  return { ok: true, records: count, files, head: last, sealedHashes, lastTime };
}

function bound(s: string | undefined, end: boolean): number | undefined {
  if (!s) return undefined;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(s);
  const t = Date.parse(dateOnly ? `${s}T00:00:00` : s);
  if (Number.isNaN(t)) return NaN;
  return dateOnly && end ? t + 86_400_000 : t;
}

/** Parse --from/--to: a date (whole local day, `to` inclusive) or an ISO time. NaN marks a bad value. */
export function exportRange(from?: string, to?: string): { from?: number; to?: number } {
  return { from: bound(from, false), to: bound(to, true) };
}

/** Records whose time lies in [from, to), in chain order, each with its hash (an auditor can re-check links). */
export async function* exportAudit(dir: string, range: { from?: number; to?: number }): AsyncGenerator<AuditRecord> {
  const files = (await auditFiles(dir)).map((f) => f.name);
  for await (const l of lines(dir, files)) {
    const rec = parseRecord(l.text);
    if (!rec) continue;
    const t = Date.parse(rec.time);
    if (range.from !== undefined && t < range.from) continue;
    if (range.to !== undefined && t >= range.to) continue;
    yield rec;
  }
}
