import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, statSync } from 'node:fs';
import { appendFlushed } from './durable-append.ts';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError, fsyncDir, withFileLock } from '../core/index.ts';
import { AUDIT_FILE_RE, GENESIS_HASH, auditFileName, capAuditDetails, capAuditText, recordHash, recordLine, type AuditEntry, type AuditRecord } from './audit-record.ts';
import {
  SEALS_FILE,
  SEAL_KEY_FILE,
  SEAL_EVERY_RECORDS,
  SEAL_INTERVAL_MS,
  defaultVerificationKeyFile,
  evolveKey,
  lastSeal,
  readKeyState,
  sealHead,
  startSealing,
  writeKeyState,
  type Seal,
  type SealKeyState,
} from './audit-seal.ts';

/** Last record of the chain, as recorded in audit/head.json after every append (backups keep it). */
export interface AuditHead {
  seq: number;
  hash: string;
  file: string;
  time: string;
}

export const HEAD_FILE = 'head.json';
/** At most one head.json write per this many ms while records keep coming (see AuditLog). */
export const HEAD_DELAY_MS = 250;
export const LOCK_FILE = '.lock';

interface Tail {
  seq: number;
  hash: string;
  file?: string;
  year?: number;
  /** A brand-new trail (nothing recorded, no head, no seals): the only case that starts a chain. */
  fresh?: boolean;
}

/** Logs with a seal timer running: sealed before a short-lived process (a console command) exits. */
const sealWaiting = new Set<AuditLog>();
let exitHook = false;
function sealBeforeExit(log: AuditLog): void {
  sealWaiting.add(log);
  if (exitHook) return;
  exitHook = true;
  process.on('beforeExit', () => {
    const logs = [...sealWaiting];
    sealWaiting.clear();
    for (const l of logs) l.settle().catch(() => undefined);
  });
}

/**
 * The files as this process left them after its last batch. While the newest audit file and
 * head.json are exactly these (same inode, size, mtime), nobody else has appended since, and the
 * tail is the one this process wrote: no need to read it back.
 */
interface Seen {
  tail: Tail;
  file: string;
  ino: number;
  size: number;
  mtimeMs: number;
  headIno: number;
  headMtimeMs: number;
}

interface Pending {
  entry: AuditEntry;
  resolve: (r: AuditRecord) => void;
  reject: (e: unknown) => void;
}

function yearlyFiles(names: string[]): Array<{ name: string; year: number }> {
  return names
    .map((name) => ({ name, m: AUDIT_FILE_RE.exec(name) }))
    .filter((x) => x.m)
    .map((x) => ({ name: x.name, year: Number(x.m![1]) }))
    .sort((a, b) => a.year - b.year);
}

export async function auditFiles(dir: string): Promise<Array<{ name: string; year: number }>> {
  return yearlyFiles(await readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e))));
}

export async function readHead(dir: string): Promise<AuditHead | undefined> {
  try {
    const h = JSON.parse(await readFile(join(dir, HEAD_FILE), 'utf8')) as AuditHead;
    return typeof h.seq === 'number' && typeof h.hash === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** The last line of a file without reading all of it (audit files grow for a year). */
async function lastLine(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    let chunk = 4096;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      const text = buf.toString('utf8').replace(/\n+$/, '');
      const nl = text.lastIndexOf('\n');
      if (nl >= 0 || start === 0) return text.slice(nl + 1) || undefined;
      chunk *= 4;
    }
  } finally {
    await fh.close();
  }
}

/**
 * The audit trail: append-only JSON lines in audit/audit-<year>.jsonl, each record chained to the
 * previous one by SHA-256 (`prev` = previous `hash`), continuing across the yearly files.
 *
 * Appends are queued in the process and written in groups (one write + one flush per group), under
 * audit/.lock so that `archive serve` and console commands can append to the same directory: each
 * group finds the tail under the lock (re-read unless the files are still exactly as this process
 * left them), so neither process ever forks the chain.
 * `append` resolves only when the record is on disk (written and flushed). head.json follows,
 * after the callers are answered: at once when it was last written at least `headDelayMs` ago
 * (default HEAD_DELAY_MS), else by a timer that long after — one head write (three flushes,
 * ~0.7 ms here, 5 ms at p95) per batch was most of what a search paid for its record. A head
 * behind the file is the crash window `archive audit verify` already accepts (the records after
 * it are proven by the chain, and the record it names must still carry its hash); it never hides
 * records cut from before the end it names.
 */
export class AuditLog {
  readonly dir: string;
  private readonly now: () => Date;
  private pending: Pending[] = [];
  private draining = false;
  private drained: Promise<void> = Promise.resolve();
  private made?: Promise<unknown>;
  private seen?: Seen;
  /** head.json could not be written after the last batch: the next batch must write it first. */
  private headOwed = false;
  /** Records on disk that head.json does not name yet; the timer below brings it up. */
  private headLags = false;
  private headTimer?: NodeJS.Timeout;
  private lastHeadAt = -Infinity;
  private readonly headDelayMs: number;
  /** Where a new verification key is written for the auditor (default <data>/config/audit-verification-key.txt). */
  readonly verificationKeyFile: string;
  private readonly sealIntervalMs: number;
  private readonly sealEveryRecords: number;
  private sealTimer?: NodeJS.Timeout;
  /** The seq of the last seal this process knows of (undefined until it has read or made one). */
  private sealedSeq?: number;
  /** A seal failed: the next batch must seal first, or refuse (fail closed). */
  private sealOwed = false;

  /** A file of zeros on the same filesystem, given back to the trail when the disk is full. */
  private readonly reservePath?: string;
  /** The reserve was given back since this process started: health says so. */
  reserveInUse = false;

  constructor(dir: string, opts: { now?: () => Date; headDelayMs?: number; verificationKeyFile?: string; sealIntervalMs?: number; sealEveryRecords?: number; reservePath?: string } = {}) {
    this.dir = dir;
    this.now = opts.now ?? (() => new Date());
    this.headDelayMs = opts.headDelayMs ?? HEAD_DELAY_MS;
    this.verificationKeyFile = opts.verificationKeyFile ?? defaultVerificationKeyFile(dir);
    this.sealIntervalMs = opts.sealIntervalMs ?? SEAL_INTERVAL_MS;
    this.sealEveryRecords = opts.sealEveryRecords ?? SEAL_EVERY_RECORDS;
    this.reservePath = opts.reservePath;
  }

  /**
   * Hold `bytes` of the disk for the trail: real blocks (zeros written and flushed,
   * not a sparse file), so that when everything else has filled the disk, removing this file
   * frees room for the records that say what happened. Returns false if there was no room.
   */
  async ensureReserve(bytes: number): Promise<boolean> {
    if (!this.reservePath || bytes <= 0) return true;
    const have = await stat(this.reservePath)
      .then((s) => s.size)
      .catch(() => 0);
    if (have >= bytes) return true;
    const fh = await open(this.reservePath, 'w', 0o600);
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (let off = 0; off < bytes; off += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, bytes - off));
      await fh.sync();
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      await fh.close().catch(() => undefined);
      await rm(this.reservePath, { force: true });
      return false;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** Give the reserve back to the filesystem; true if there was one to give. */
  private async releaseReserve(): Promise<boolean> {
    if (!this.reservePath) return false;
    const had = await stat(this.reservePath)
      .then(() => true)
      .catch(() => false);
    if (!had) return false;
    await rm(this.reservePath, { force: true });
    this.reserveInUse = true;
    return true;
  }

  append(entry: AuditEntry): Promise<AuditRecord> {
    return new Promise<AuditRecord>((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (!this.draining) this.drained = this.drain();
    });
  }

  /**
   * Wait for the queued records and bring head.json up to them now instead of by the timer: for a
   * caller about to hand the trail over (a restore returning its data dir).
   */
  async settle(): Promise<void> {
    while (this.draining) await this.drained;
    if (this.headTimer) {
      clearTimeout(this.headTimer);
      this.headTimer = undefined;
      await withFileLock(join(this.dir, LOCK_FILE), () => this.headIfLagging());
    }
    if (this.sealTimer || this.sealOwed) await this.sealNow();
  }

  /** Seal the chain head now (under the lock) instead of by the timer; nothing if it is sealed already. */
  async sealNow(): Promise<Seal | undefined> {
    if (this.sealTimer) clearTimeout(this.sealTimer);
    this.sealTimer = undefined;
    sealWaiting.delete(this);
    try {
      const s = await withFileLock(join(this.dir, LOCK_FILE), () => this.sealUnderLock());
      this.sealOwed = false;
      return s;
    } catch (e) {
      this.sealOwed = true;
      throw e;
    }
  }

  /**
   * Continue a trail that cannot go on by itself, as an explicit and recorded act (never on the
   * way of an append): a restored data dir (backups carry no sealing key), a lost sealing key or
   * seal file (a new key segment starts: a new verification key for the auditor), a lost
   * head.json (rebuilt from the file tail). `entry` is recorded with what was done.
   */
  async resume(entry: AuditEntry): Promise<AuditRecord> {
    while (this.draining) await this.drained;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const done = await withFileLock(join(this.dir, LOCK_FILE), async () => {
      const head = await readHead(this.dir);
      const t = await this.tail(false);
      const state = await readKeyState(this.dir).catch(() => undefined);
      let sealsOk = false;
      let last: Seal | undefined;
      try {
        last = await lastSeal(this.dir);
        sealsOk = !!state && sealStateProblem(state, last) === undefined;
      } catch {
        sealsOk = false;
      }
      if (head && sealsOk) {
        throw new ApplianceError('AUDIT_RESUME_NOT_NEEDED', '审计链与封印状态完好，无需续接。', 'audit trail and sealing state are intact: nothing to resume', { status: 409 });
      }
      const time = this.now().toISOString();
      const details: Record<string, unknown> = { headRebuilt: !head, previousKey: state?.key ?? null, lastSeal: last ? { key: last.key, i: last.i, seq: last.seq, time: last.time } : null };
      if (!sealsOk) details.newKey = await startSealing(this.dir, this.verificationKeyFile, time);
      if (!head) await this.writeHead({ seq: t.seq, hash: t.hash, file: t.file ?? '', time });
      this.seen = undefined;
      this.headOwed = false;
      this.sealOwed = false;
      this.sealedSeq = undefined;
      return details;
    });
    const rec = await this.append({ ...entry, details: { ...(entry.details ?? {}), ...done } });
    await this.settle();
    return rec;
  }

  /** The chain's head (seq 0 and the genesis hash when the trail is empty). */
  async head(): Promise<AuditHead> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    return withFileLock(join(this.dir, LOCK_FILE), async () => {
      // Reading the head never refuses (a backup of a damaged trail must still be possible).
      const t = await this.currentTail(false);
      return { seq: t.seq, hash: t.hash, file: t.file ?? '', time: this.now().toISOString() };
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, 512);
        try {
          this.made ??= mkdir(this.dir, { recursive: true, mode: 0o700 });
          await this.made;
          try {
            await withFileLock(join(this.dir, LOCK_FILE), () => this.writeBatch(batch));
          } catch (e) {
            // Disk full: the reserve goes, and the records are written into the room it held.
            if ((e as NodeJS.ErrnoException).code !== 'ENOSPC' || !(await this.releaseReserve())) throw e;
            await withFileLock(join(this.dir, LOCK_FILE), () => this.writeBatch(batch));
          }
        } catch (e) {
          const err =
            e instanceof ApplianceError
              ? e
              : new ApplianceError('AUDIT_WRITE_FAILED', `审计记录写入失败：${(e as Error).message}。操作未完成。`, `audit append failed: ${(e as Error).message}`, { status: 503, cause: e });
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Where the next record continues from. The file tail is the truth, except when head.json is
   * ahead of it: then records were cut from the end, and continuing from head.json keeps that gap
   * visible to `archive audit verify` instead of papering over it with new records.
   */
  private async tail(strict = true): Promise<Tail> {
    const files = await auditFiles(this.dir);
    const last = files[files.length - 1];
    let t: Tail = { seq: 0, hash: GENESIS_HASH };
    if (last) {
      const line = await lastLine(join(this.dir, last.name));
      if (line !== undefined) {
        let rec: AuditRecord;
        try {
          rec = JSON.parse(line) as AuditRecord;
        } catch {
          throw new ApplianceError('AUDIT_TAIL_CORRUPT', `审计文件 ${last.name} 的最后一行无法解析，已拒绝继续写入。请运行 archive audit verify 检查。`, `last line of ${last.name} is not JSON`, {
            status: 503,
          });
        }
        t = { seq: rec.seq, hash: rec.hash, file: last.name, year: last.year };
      } else {
        t = { ...t, file: last.name, year: last.year };
        // An empty newest file: the chain continues from the file before it.
        const before = files[files.length - 2];
        const line2 = before ? await lastLine(join(this.dir, before.name)) : undefined;
        if (line2) {
          const rec = JSON.parse(line2) as AuditRecord;
          t = { ...t, seq: rec.seq, hash: rec.hash };
        }
      }
    }
    const head = await readHead(this.dir);
    if (head && (head.seq > t.seq || (head.seq === t.seq && head.hash !== t.hash))) t = { ...t, seq: head.seq, hash: head.hash };
    if (!head && t.seq === 0 && (await this.unstarted())) return { ...t, fresh: true };
    if (!strict) return t;
    // Anything else without a head or a sealing key was cut or tampered with: refuse, never
    // rebuild (`archive audit resume` continues it as a recorded act).
    if (!head && !this.headOwed) {
      throw new ApplianceError(
        'AUDIT_HEAD_MISSING',
        '审计链 head.json 缺失或无法读取（末尾记录可能被删除），已拒绝继续写入审计记录。请安全审计员用验证密钥运行 archive audit verify，查明后由控制台运行 archive audit resume。',
        'audit head.json missing: refusing to append',
        { status: 503 },
      );
    }
    if (!(await stat(join(this.dir, SEAL_KEY_FILE)).catch(() => undefined))) {
      throw new ApplianceError(
        'AUDIT_SEAL_KEY_MISSING',
        '审计封印密钥缺失，已拒绝继续写入审计记录。若刚从备份恢复或升级，请在控制台运行 archive audit resume（将生成新的验证密钥交安全审计员）。',
        'audit sealing key missing: refusing to append',
        { status: 503 },
      );
    }
    return t;
  }

  /**
   * No record, no head: a new trail, unless seals or a sealing key past index 0 show that one
   * was there (then it was cut). A key at index 0 with no seal is a start that did not finish.
   */
  private async unstarted(): Promise<boolean> {
    const seals = await stat(join(this.dir, SEALS_FILE)).catch(() => undefined);
    let state: SealKeyState | undefined;
    try {
      state = await readKeyState(this.dir);
    } catch {
      return false;
    }
    if (!state) return !seals;
    return state.i === 0 && (!seals || seals.size === 0);
  }

  /** The tail: as this process left it when the files are unchanged since, else read from disk. */
  private async currentTail(strict = true): Promise<Tail> {
    const s = this.seen;
    this.seen = undefined;
    if (s) {
      // Synchronous: small syscalls are cheaper than thread-pool trips (every search's record).
      const files = yearlyFiles(readdirSync(this.dir));
      if (files[files.length - 1]?.name === s.file) {
        const f = statSync(join(this.dir, s.file), { throwIfNoEntry: false });
        const h = statSync(join(this.dir, HEAD_FILE), { throwIfNoEntry: false });
        if (f && f.ino === s.ino && f.size === s.size && f.mtimeMs === s.mtimeMs && h && h.ino === s.headIno && h.mtimeMs === s.headMtimeMs) return s.tail;
      }
    }
    return this.tail(strict);
  }

  /**
   * head.json replaced atomically: written and fsynced beside it, renamed over it, the directory
   * fsynced. Returns the identity of the new file, for `seen`.
   */
  private async writeHead(head: AuditHead): Promise<{ ino: number; mtimeMs: number }> {
    const tmp = join(this.dir, `.head-${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(tmp, 'wx', 0o600);
    let st;
    try {
      await fh.writeFile(`${JSON.stringify(head)}\n`);
      await fh.sync();
      st = await fh.stat();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, join(this.dir, HEAD_FILE));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    await fsyncDir(this.dir);
    return { ino: st.ino, mtimeMs: st.mtimeMs };
  }

  /** Under the lock: append the batch's records, answer its callers, then bring head.json up. */
  private async writeBatch(batch: Pending[]): Promise<void> {
    const entries = batch.map((p) => p.entry);
    if (this.sealOwed) {
      await this.sealUnderLock();
      this.sealOwed = false;
    }
    let t = await this.currentTail();
    if (t.fresh) {
      // A new chain: its sealing key (and the auditor's verification key) and a head at the
      // genesis before its first record, so that a missing head never means anything but a cut.
      const time = this.now().toISOString();
      await startSealing(this.dir, this.verificationKeyFile, time);
      await this.writeHead({ seq: 0, hash: GENESIS_HASH, file: '', time });
      this.sealedSeq = 0;
      t = { seq: 0, hash: GENESIS_HASH, file: t.file, year: t.year };
    }
    if (this.headOwed) {
      await this.writeHead({ seq: t.seq, hash: t.hash, file: t.file ?? '', time: this.now().toISOString() });
      this.headOwed = false;
      this.headLags = false;
      this.lastHeadAt = performance.now();
    }
    const now = this.now();
    // Rotation by year never goes backwards, even if the clock does.
    const year = Math.max(now.getFullYear(), t.year ?? 0);
    const file = auditFileName(year);
    let { seq, hash } = t;
    const records: AuditRecord[] = [];
    const time = now.toISOString();
    for (const e of entries) {
      // Round-trip so the stored details are exactly what gets hashed (no undefined, no NaN).
      // Long texts (paths, names) are capped with a hash of the whole: a record stays small.
      const details = capAuditDetails(JSON.parse(JSON.stringify(e.details ?? {}))) as Record<string, unknown>;
      const base = {
        seq: seq + 1,
        time,
        actor: capAuditText(String(e.actor || '-')),
        role: capAuditText(String(e.role || '-')),
        source: capAuditText(String(e.source || '-')),
        action: capAuditText(String(e.action)),
        target: capAuditText(String(e.target ?? '-')),
        outcome: e.outcome,
        details,
        prev: hash,
      };
      const rec: AuditRecord = { ...base, hash: recordHash(base) };
      records.push(rec);
      seq = rec.seq;
      hash = rec.hash;
    }
    const path = join(this.dir, file);
    const created = t.file !== file;
    // Synchronous but for the flush: open, write and stat take µs; only fsync waits on the disk.
    const fd = openSync(path, 'a', 0o600);
    let after;
    try {
      // Never half a line behind: the next append would refuse a corrupt tail.
      await appendFlushed(fd, Buffer.from(records.map(recordLine).join('')));
      after = fstatSync(fd);
    } finally {
      closeSync(fd);
    }
    if (created) await fsyncDir(this.dir);
    // On disk: the callers may go on (a search may answer) while head.json is brought up.
    batch.forEach((p, i) => p.resolve(records[i]));
    const tail: Tail = { seq, hash, file, year };
    const fileId = { file, ino: after.ino, size: after.size, mtimeMs: after.mtimeMs };
    await this.headAfterBatch(tail, fileId, time);
    this.sealAfterBatch(seq);
  }

  /**
   * Seals follow on a timer (SEAL_INTERVAL_MS after the first unsealed record) or after
   * SEAL_EVERY_RECORDS records, never per append: a seal costs an append, a key replacement and
   * their flushes, once a minute rather than once a search.
   */
  private sealAfterBatch(seq: number): void {
    if (this.sealedSeq !== undefined && seq - this.sealedSeq >= this.sealEveryRecords) {
      // Still under the lock (this batch's callers are answered): the next batch waits for it.
      this.sealOwed = true;
    }
    if (this.sealTimer) return;
    this.sealTimer = setTimeout(
      () => {
        this.sealTimer = undefined;
        sealWaiting.delete(this);
        this.sealNow().catch(() => undefined);
      },
      this.sealOwed ? 0 : this.sealIntervalMs,
    );
    this.sealTimer.unref();
    sealBeforeExit(this);
  }

  /**
   * Under the lock: seal the chain head with the current key and evolve it. The seal state must
   * be the one this appliance left: the key file at the index after the last seal (or at it,
   * when a crash came between the seal and the key's evolution: evolved now).
   */
  private async sealUnderLock(): Promise<Seal | undefined> {
    const s = this.seen;
    const t = await this.currentTail();
    if (s && t === s.tail) this.seen = s;
    if (t.fresh || t.seq === 0) return undefined;
    let state = await readKeyState(this.dir);
    if (!state) throw new ApplianceError('AUDIT_SEAL_KEY_MISSING', '审计封印密钥缺失，无法封印。', 'sealing key missing', { status: 503 });
    const last = await lastSeal(this.dir);
    const problem = sealStateProblem(state, last);
    if (problem)
      throw new ApplianceError(
        'AUDIT_SEAL_STATE',
        `审计封印状态不一致（${problem.zh}），已拒绝继续写入审计记录。请安全审计员用验证密钥运行 archive audit verify。`,
        `sealing state inconsistent: ${problem.en}`,
        { status: 503 },
      );
    if (last && last.key === state.key && last.i === state.i) {
      const k = Buffer.from(state.k, 'hex');
      state = { ...state, i: state.i + 1, k: evolveKey(k).toString('hex') };
      await writeKeyState(this.dir, state);
      k.fill(0);
    }
    if (last && last.seq > t.seq)
      throw new ApplianceError(
        'AUDIT_SEAL_STATE',
        `审计封印指向记录 ${last.seq}，而审计链只到 ${t.seq}（末尾记录被删除），已拒绝继续写入。`,
        `last seal covers seq ${last.seq} beyond the tail ${t.seq}`,
        { status: 503 },
      );
    if (last && last.seq === t.seq) {
      this.sealedSeq = t.seq;
      return undefined;
    }
    const seal = await sealHead(this.dir, state, t, this.now().toISOString());
    this.sealedSeq = t.seq;
    return seal;
  }

  private async headAfterBatch(tail: Tail, fileId: { file: string; ino: number; size: number; mtimeMs: number }, time: string): Promise<void> {
    // Due (or there is none yet): now. Else the one there is stays, and the timer follows.
    const due = performance.now() - this.lastHeadAt >= this.headDelayMs;
    const h = due ? undefined : statSync(join(this.dir, HEAD_FILE), { throwIfNoEntry: false });
    if (!h) {
      await this.bringHead(tail, fileId, time);
      return;
    }
    this.seen = { tail, ...fileId, headIno: h.ino, headMtimeMs: h.mtimeMs };
    this.headLags = true;
    this.headTimer ??= setTimeout(
      () => {
        this.headTimer = undefined;
        withFileLock(join(this.dir, LOCK_FILE), () => this.headIfLagging()).catch(() => {
          this.headOwed = true;
        });
      },
      Math.max(1, this.lastHeadAt + this.headDelayMs - performance.now()),
    );
  }

  /** head.json brought up to `tail`; a failure leaves it owed (the next batch must write it first). */
  private async bringHead(tail: Tail, fileId: { file: string; ino: number; size: number; mtimeMs: number }, time: string): Promise<void> {
    try {
      const h = await this.writeHead({ seq: tail.seq, hash: tail.hash, file: fileId.file, time });
      this.lastHeadAt = performance.now();
      this.headLags = false;
      this.seen = { tail, ...fileId, headIno: h.ino, headMtimeMs: h.mtimeMs };
    } catch {
      // The records stand (the chain proves them).
      this.headOwed = true;
    }
  }

  /** Under the lock, from the timer: head.json up to the tail if a batch left it behind. */
  private async headIfLagging(): Promise<void> {
    if (!this.headLags) return;
    const t = await this.currentTail();
    const file = t.file ?? '';
    const f = file ? await stat(join(this.dir, file)).catch(() => undefined) : undefined;
    if (!f) {
      this.headOwed = true;
      return;
    }
    await this.bringHead(t, { file, ino: f.ino, size: f.size, mtimeMs: f.mtimeMs }, this.now().toISOString());
  }
}

/** Is the key file where the last seal leaves it? (undefined: yes; else why not). */
export function sealStateProblem(state: SealKeyState, last: Seal | undefined): { zh: string; en: string } | undefined {
  if (!last) return state.i === 0 ? undefined : { zh: `密钥已到第 ${state.i} 期，却没有任何封印`, en: `key at epoch ${state.i} but no seal` };
  if (last.key !== state.key) return state.i === 0 ? undefined : { zh: `新密钥已到第 ${state.i} 期，却没有它的封印`, en: `new key at epoch ${state.i} without its seals` };
  if (state.i === last.i + 1 || state.i === last.i) return undefined;
  return { zh: `密钥在第 ${state.i} 期，而最后一个封印是第 ${last.i} 期`, en: `key at epoch ${state.i}, last seal ${last.i}` };
}

export async function auditDirExists(dir: string): Promise<boolean> {
  return stat(dir)
    .then((s) => s.isDirectory())
    .catch(() => false);
}
