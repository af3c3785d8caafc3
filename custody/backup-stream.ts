import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { ApplianceError } from '../core/index.ts';
import { badSignature, corrupt, openBackupFile, type BackupOpenKey, type ChunkParams, type OpenedBackup } from './backup-crypto.ts';

/**
 * The main thread's side of backup-worker.mjs: a writer that hands plaintext to the sealing worker,
 * and a Readable of the plaintext an opening worker authenticated. Buffers move by transfer, not
 * copy, where the caller says they are its own.
 */
const WORKER = new URL('./backup-worker.mjs', import.meta.url);

type WorkerError = { reason: 'io' | 'auth' | 'truncated' | 'truncated-after' | 'signature'; chunk?: number; offset?: number; message?: string };

function toError(e: WorkerError): Error {
  const d = { chunk: e.chunk, offset: e.offset };
  switch (e.reason) {
    case 'truncated':
      return corrupt(`文件被截断（第 ${e.chunk} 块不完整）`, `truncated at chunk ${e.chunk}`, { ...d, reason: 'truncated' });
    case 'truncated-after':
      return corrupt(`文件被截断（第 ${e.chunk} 块之后的内容缺失）`, `truncated after chunk ${e.chunk}`, { ...d, reason: 'truncated' });
    case 'signature':
      return badSignature();
    case 'auth':
      return corrupt(`第 ${e.chunk} 块（偏移 ${e.offset}）认证失败（内容被改动、顺序被调换或被截断）`, `chunk ${e.chunk} at offset ${e.offset} failed authentication`, { ...d, reason: 'auth' });
    default:
      // A medium that fills up, is pulled out or is read-only: say so, not "internal error".
      return new ApplianceError('BACKUP_IO', `读写备份文件失败：${e.message ?? '未知原因'}。请检查介质是否已满、已拔出或只读；备份未完成。`, `backup file I/O failed: ${e.message}`, { status: 500 });
  }
}

const workerExited = (code: number) => new ApplianceError('BACKUP_WORKER', `备份的加密线程意外退出（代码 ${code}），操作未完成，请重试。`, `backup worker exited (${code})`, { status: 500 });

const SMALL = 256 * 1024;
/** Plaintext handed over but not yet written: past this, write() waits for the worker. */
const IN_FLIGHT = 16 * 1024 * 1024;

/** Encrypt a plaintext stream into a new file (created with O_EXCL, mode 0600, fsynced at end). */
export class SealedFileWriter {
  private inFlight = 0;
  private failure?: Error;
  private waiters: Array<() => void> = [];
  private small = Buffer.allocUnsafe(SMALL);
  private smallLen = 0;
  private finished?: (bytes: number) => void;
  private rejectEnd?: (e: Error) => void;
  private closed = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: { ack?: number; done?: number; error?: WorkerError }) => {
      if (m.ack !== undefined) this.inFlight -= m.ack;
      else if (m.done !== undefined) this.finished?.(m.done);
      else if (m.error) this.fail(toError(m.error));
      this.wakeAll();
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(workerExited(code));
    });
  }

  /** `signingKey`: the appliance's Ed25519 key (PKCS#8 DER); `flushEvery`: bytes written between flushes to disk (default 64 MiB). */
  static create(path: string, header: Buffer, p: ChunkParams, signingKey: Buffer, flushEvery?: number): SealedFileWriter {
    return new SealedFileWriter(new Worker(WORKER, { workerData: { mode: 'seal', path, header, signingKey, flushEvery, ...p } }));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.rejectEnd?.(this.failure);
    this.wakeAll();
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * Queue plaintext. `own`: the caller will not touch `buf` again, so its memory moves to the worker
   * without a copy (it must be a whole ArrayBuffer of its own). Small pieces are gathered first.
   */
  async write(buf: Buffer, own = false): Promise<void> {
    if (this.failure) throw this.failure;
    if (buf.length < SMALL / 4 || !own || buf.byteOffset !== 0 || buf.buffer.byteLength !== buf.byteLength) {
      if (buf.length <= SMALL - this.smallLen) {
        buf.copy(this.small, this.smallLen);
        this.smallLen += buf.length;
        return;
      }
      this.flushSmall();
      if (buf.length <= SMALL) {
        buf.copy(this.small, 0);
        this.smallLen = buf.length;
        return;
      }
      buf = Buffer.from(buf);
    } else this.flushSmall();
    this.post(buf);
    while (this.inFlight > IN_FLIGHT && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  private flushSmall(): void {
    if (!this.smallLen) return;
    const part = this.small.subarray(0, this.smallLen);
    this.small = Buffer.allocUnsafe(SMALL);
    this.smallLen = 0;
    this.post(part);
  }

  private post(buf: Buffer): void {
    this.inFlight += buf.length;
    this.worker.postMessage({ parts: [buf], bytes: buf.length }, [buf.buffer as ArrayBuffer]);
  }

  /** Seal the final chunk, fsync, close. Resolves with the file's size. */
  async end(): Promise<number> {
    if (this.failure) throw this.failure;
    this.flushSmall();
    const done = new Promise<number>((resolve, reject) => {
      this.finished = resolve;
      this.rejectEnd = reject;
    });
    this.worker.postMessage({ end: true });
    try {
      return await done;
    } finally {
      this.closed = true;
      await this.worker.terminate();
    }
  }

  /** Stop without finishing (the caller removes the partial file). */
  async abort(): Promise<void> {
    this.failure ??= new Error('aborted');
    this.closed = true;
    await this.worker.terminate();
  }
}

/**
 * Plaintext in flight between the opening worker and the consumer: 2 chunks a message, 3 messages.
 * Small on purpose: the consumer hashes (or writes) bytes the worker just wrote, and while they are
 * still in cache that runs at full speed; 1 MiB batches with 6 in flight and an 8 MiB stream
 * buffer made verify ~20% slower on the 2-core appliance (bench/backup.ts).
 */
const BATCH_CHUNKS = 2;
const CREDITS = 3;

type OpenedBatch = { parts: Uint8Array[]; consumed: number; end: boolean; error?: WorkerError };

/** The thread that will read a backup's chunks, started before the key is known. */
class Opener {
  readonly worker: Worker;
  used = false;
  /** Kept until a stream takes the worker over, which then reports it. */
  early?: Error;
  constructor(path: string) {
    this.worker = new Worker(WORKER, { workerData: { mode: 'open', path } });
    // Not holding the process open while nothing reads from it.
    this.worker.unref();
    this.worker.on('error', (e) => (this.early ??= e));
    this.worker.on('exit', (code) => (this.early ??= workerExited(code)));
  }
  async cancel(): Promise<void> {
    this.used = true;
    await this.worker.terminate();
  }
}

/** A backup file opened for reading: its header authenticated, its plaintext to come. */
export interface ReadableBackup extends OpenedBackup {
  /** The file's size (progress counts against it). */
  size: number;
  /** The plaintext past the header, every chunk authenticated before it is pushed. Once. */
  plaintext(onConsumed?: (n: number) => void): Readable;
}

/**
 * Open a backup for reading: its header is read, its signer checked and its file key unwrapped while
 * the thread that will read its chunks starts alongside (~70 ms). BACKUP_NOT_FOUND when the file
 * cannot be opened, BACKUP_SIGNER_UNTRUSTED / BACKUP_NOT_A_RECIPIENT / BACKUP_CORRUPT from the header.
 */
export async function openBackupForReading(file: string, key: BackupOpenKey): Promise<ReadableBackup> {
  const size = await stat(file).then(
    (s) => s.size,
    (e: Error) => {
      throw new ApplianceError('BACKUP_NOT_FOUND', `无法打开备份文件：${file}（${e.message}）`, `cannot open backup ${file}`);
    },
  );
  const opener = new Opener(file);
  const opened = await openBackupFile(file, key).catch(async (e: unknown) => {
    await opener.cancel();
    throw e;
  });
  return { ...opened, size, plaintext: (onConsumed) => openedBackupStream(opener, opened.offset, size, { ...opened.chunks, signer: opened.signer }, onConsumed) };
}

/**
 * The plaintext of a backup file from `offset` (just past its header), every chunk authenticated
 * before its bytes are pushed. Fails with BACKUP_CORRUPT naming the chunk. `onConsumed` counts
 * file bytes behind what was pushed (for progress). The chunks' places, and which one is final,
 * follow from `size`.
 */
function openedBackupStream(opener: Opener, offset: number, size: number, p: ChunkParams & { signer: Buffer }, onConsumed?: (n: number) => void): Readable {
  let worker: Worker | undefined;
  let owed = 0;
  let ended = false;
  const start = (): void => {
    if (opener.used) return void stream.destroy(new Error('backup plaintext read twice'));
    opener.used = true;
    const w = (worker = opener.worker);
    w.ref();
    w.on('message', (m: OpenedBatch | { error: WorkerError; parts?: undefined }) => {
      // Messages already on their way when the consumer gave up are dropped.
      if (stream.destroyed || worker !== w) return;
      if (!m.parts) return void stream.destroy(toError(m.error));
      onConsumed?.(m.consumed);
      let more = true;
      for (const d of m.parts) more = stream.push(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
      if (m.error) stream.destroy(toError(m.error));
      else if (m.end) {
        ended = true;
        stream.push(null);
      } else if (more) w.postMessage({ credit: 1 });
      else owed++;
    });
    w.on('error', (e) => stream.destroy(e));
    w.on('exit', (code) => {
      if (!ended && !stream.destroyed && worker === w) stream.destroy(workerExited(code));
    });
    if (opener.early) return void stream.destroy(opener.early);
    w.postMessage({ open: { offset, size, batchChunks: BATCH_CHUNKS, credits: CREDITS, ...p } });
  };
  const stream = new Readable({
    highWaterMark: BATCH_CHUNKS * p.chunkSize,
    read() {
      if (!worker) return start();
      if (owed > 0) worker.postMessage({ credit: owed });
      owed = 0;
    },
    destroy(err, cb) {
      const w = worker;
      worker = undefined;
      if (w)
        void w.terminate().then(
          () => cb(err),
          () => cb(err),
        );
      else {
        if (!opener.used) void opener.cancel();
        cb(err);
      }
    },
  });
  return stream;
}
