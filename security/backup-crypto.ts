import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import argon2 from 'argon2';
import { ApplianceError } from '../appliance/errors.ts';

/**
 * The encrypted backup format (in the spirit of age's STREAM):
 *
 *   "ARCHBKUP" | u8 version | u32 BE length | header JSON | SHA-256(all before) | HMAC-SHA256(all before)
 *   then chunks: AES-256-GCM(plaintext ≤ chunkSize) ‖ 16-byte tag, one after another.
 *
 * Each chunk's nonce is noncePrefix(7) ‖ u32 counter ‖ final flag(1), and its AAD is the header's
 * SHA-256, so a chunk moved, dropped, repeated or taken from another backup fails to open, and
 * a file cut at a chunk boundary fails because its last chunk was not sealed as final.
 *
 * The header's plain SHA-256 tells damage apart from a wrong key: a flipped byte in the header is
 * "corrupt", while an intact header whose key check does not match is "wrong passphrase". The
 * HMAC (under the derived key) then proves nobody rewrote the header and its digest together.
 */
export const BACKUP_MAGIC = Buffer.from('ARCHBKUP', 'latin1');
export const BACKUP_FORMAT_VERSION = 1;
export const CHUNK_SIZE = 64 * 1024;
const TAG = 16;
const PREFIX = 13; // magic + version + length
const MAX_HEADER_JSON = 64 * 1024;

/** Argon2id cost: ~64 MiB and a few hundred ms per derivation on the appliance. */
export const BACKUP_KDF = { memoryCost: 65_536, timeCost: 3, parallelism: 1 } as const;
/** Limits on what a header may ask for, so a crafted file cannot make us allocate gigabytes. */
const KDF_LIMITS = { memoryCost: 1_048_576, timeCost: 16, parallelism: 8 };

/** What unlocks a backup: a passphrase (argon2id) or 32 random bytes from a key file. */
export type BackupKeySource = { passphrase: string } | { keyFile: Buffer };

export interface BackupHeaderInfo {
  backupId: string;
  parentId: string | null;
  kind: 'full' | 'incremental';
  created: string;
}

interface HeaderJson extends BackupHeaderInfo {
  v: number;
  kdf: { alg: 'argon2id'; m: number; t: number; p: number; salt: string } | { alg: 'key-file'; salt: string };
  chunkSize: number;
  noncePrefix: string;
  keyCheck: string;
}

interface Keys {
  enc: Buffer;
  mac: Buffer;
  check: Buffer;
}

export const badKey = () =>
  new ApplianceError('BACKUP_BAD_KEY', '备份口令或密钥文件不正确，无法解密该备份（备份文件本身完好）。', 'wrong passphrase or key file for this backup', { status: 400 });

export function corrupt(what: string, en: string, details: Record<string, unknown> = {}): ApplianceError {
  return new ApplianceError('BACKUP_CORRUPT', `备份文件已损坏或被篡改：${what}。该备份不能用于恢复。`, `backup corrupt: ${en}`, { status: 400, details });
}

const notBackup = (why: string) => new ApplianceError('BACKUP_FORMAT', `不是本系统的备份文件，或格式版本不受支持（${why}）。`, `not an appliance backup: ${why}`, { status: 400 });

/** Read a key file: 32 raw bytes, or 64 hex digits / base64 of 32 bytes (a trailing newline is fine). */
export async function readKeyFile(path: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (e) {
    throw new ApplianceError('BACKUP_KEY_FILE', `无法读取密钥文件：${path}（${(e as Error).message}）`, `cannot read key file ${path}`, { cause: e });
  }
  if (raw.length === 32) return raw;
  const text = raw.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const b64 = /^[A-Za-z0-9+/_-]{43}=?$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (b64?.length === 32) return b64;
  throw new ApplianceError('BACKUP_KEY_FILE', `密钥文件 ${path} 须为 32 字节随机数（原始字节、64 位十六进制或 base64）。可用 openssl rand -hex 32 生成。`, `key file ${path} must hold 32 bytes`);
}

async function deriveKeys(source: BackupKeySource, kdf: HeaderJson['kdf']): Promise<Keys> {
  const salt = Buffer.from(kdf.salt, 'base64');
  let master: Buffer;
  if (kdf.alg === 'argon2id') {
    if (!('passphrase' in source)) throw new ApplianceError('BACKUP_KEY_KIND', '该备份以口令加密，请提供口令（--passphrase-file 或 --passphrase-stdin）。', 'backup needs a passphrase, not a key file');
    master = await argon2.hash(source.passphrase, { type: argon2.argon2id, raw: true, salt, memoryCost: kdf.m, timeCost: kdf.t, parallelism: kdf.p, hashLength: 32 });
  } else {
    if (!('keyFile' in source)) throw new ApplianceError('BACKUP_KEY_KIND', '该备份以密钥文件加密，请提供 --key-file。', 'backup needs a key file, not a passphrase');
    master = source.keyFile;
  }
  const sub = (info: string) => Buffer.from(hkdfSync('sha256', master, salt, `archive-backup v1 ${info}`, 32));
  return { enc: sub('enc'), mac: sub('mac'), check: sub('check') };
}

function nonce(prefix: Buffer, counter: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 7);
  n.writeUInt32BE(counter, 7);
  n[11] = final ? 1 : 0;
  return n;
}

/** A FIFO of buffers that hands out exact byte counts without re-copying everything it holds. */
class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length) {
      this.parts.push(b);
      this.length += b.length;
    }
  }
  take(n: number): Buffer {
    const first = this.parts[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      this.length -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const p = this.parts[0];
      const k = Math.min(p.length, n - off);
      p.copy(out, off, 0, k);
      off += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.length -= n;
    return out;
  }
  peek(n: number): Buffer {
    const out = this.take(n);
    this.parts.unshift(out);
    this.length += n;
    return out;
  }
}

/** Build the header and keys of a new backup. */
export async function newBackupHeader(source: BackupKeySource, info: BackupHeaderInfo, kdfCost: { memoryCost: number; timeCost: number; parallelism: number } = BACKUP_KDF): Promise<{ header: Buffer; keys: Keys; prefix: Buffer; aad: Buffer }> {
  const salt = randomBytes(16).toString('base64');
  const kdf: HeaderJson['kdf'] = 'passphrase' in source ? { alg: 'argon2id', m: kdfCost.memoryCost, t: kdfCost.timeCost, p: kdfCost.parallelism, salt } : { alg: 'key-file', salt };
  const keys = await deriveKeys(source, kdf);
  const prefix = randomBytes(7);
  const json: HeaderJson = { v: BACKUP_FORMAT_VERSION, ...info, kdf, chunkSize: CHUNK_SIZE, noncePrefix: prefix.toString('hex'), keyCheck: createHmac('sha256', keys.check).update('key check').digest('hex').slice(0, 32) };
  const body = Buffer.from(JSON.stringify(json), 'utf8');
  const head = Buffer.alloc(PREFIX);
  BACKUP_MAGIC.copy(head, 0);
  head[8] = BACKUP_FORMAT_VERSION;
  head.writeUInt32BE(body.length, 9);
  const signed = Buffer.concat([head, body]);
  const digest = createHash('sha256').update(signed).digest();
  const mac = createHmac('sha256', keys.mac).update(signed).update(digest).digest();
  return { header: Buffer.concat([signed, digest, mac]), keys, prefix, aad: digest };
}

/** Plaintext in, encrypted backup out (header first). Holds at most two chunks in memory. */
export class EncryptStream extends Transform {
  private readonly q = new ByteQueue();
  private counter = 0;
  private started = false;

  constructor(
    private readonly header: Buffer,
    private readonly key: Buffer,
    private readonly prefix: Buffer,
    private readonly aad: Buffer,
    private readonly chunkSize = CHUNK_SIZE,
  ) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.start();
      this.q.push(chunk);
      // Keep the last full chunk back until we know whether it is the final one. Sealed chunks
      // go downstream as one buffer per input chunk: a push per 64 KiB chunk and per tag cost
      // more than the encryption itself.
      const out: Buffer[] = [];
      while (this.q.length > this.chunkSize) this.seal(this.q.take(this.chunkSize), false, out);
      if (out.length) this.push(out.length === 1 ? out[0] : Buffer.concat(out));
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.start();
      const out: Buffer[] = [];
      this.seal(this.q.take(this.q.length), true, out);
      this.push(Buffer.concat(out));
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.push(this.header);
  }

  private seal(pt: Buffer, final: boolean, out: Buffer[]): void {
    if (this.counter > 0xffffffff) throw new Error('backup too large for one stream');
    const c = createCipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.counter++, final));
    c.setAAD(this.aad);
    out.push(c.update(pt));
    c.final();
    out.push(c.getAuthTag());
  }
}

/** Parse and authenticate a header at the start of `q`; undefined while more bytes are needed. */
function headerLength(q: ByteQueue): number | undefined {
  if (q.length < PREFIX) return undefined;
  const p = q.peek(PREFIX);
  if (!p.subarray(0, 8).equals(BACKUP_MAGIC)) throw notBackup('magic bytes differ');
  if (p[8] !== BACKUP_FORMAT_VERSION) throw notBackup(`format version ${p[8]}`);
  const len = p.readUInt32BE(9);
  if (len > MAX_HEADER_JSON) throw corrupt('文件头长度异常', `header length ${len}`, { chunk: 0 });
  return PREFIX + len + 64;
}

async function openHeader(raw: Buffer, source: BackupKeySource): Promise<{ json: HeaderJson; keys: Keys; aad: Buffer }> {
  const signed = raw.subarray(0, raw.length - 64);
  const digest = raw.subarray(raw.length - 64, raw.length - 32);
  const mac = raw.subarray(raw.length - 32);
  if (!createHash('sha256').update(signed).digest().equals(digest)) throw corrupt('文件头（第 0 块）校验失败', 'header digest mismatch', { chunk: 0 });
  let json: HeaderJson;
  try {
    json = JSON.parse(signed.subarray(PREFIX).toString('utf8')) as HeaderJson;
  } catch {
    throw corrupt('文件头无法解析', 'header JSON invalid', { chunk: 0 });
  }
  const k = json.kdf;
  if (json.chunkSize !== CHUNK_SIZE || !/^[0-9a-f]{14}$/.test(json.noncePrefix) || typeof k?.salt !== 'string') throw notBackup('header fields');
  if (k.alg === 'argon2id' && !(k.m >= 8 && k.m <= KDF_LIMITS.memoryCost && k.t >= 1 && k.t <= KDF_LIMITS.timeCost && k.p >= 1 && k.p <= KDF_LIMITS.parallelism)) throw notBackup('KDF parameters out of range');
  const keys = await deriveKeys(source, k);
  const check = createHmac('sha256', keys.check).update('key check').digest('hex').slice(0, 32);
  if (!timingSafeEqual(Buffer.from(check), Buffer.from(String(json.keyCheck).padEnd(32).slice(0, 32)))) throw badKey();
  if (!timingSafeEqual(createHmac('sha256', keys.mac).update(signed).update(digest).digest(), mac)) throw corrupt('文件头认证失败（被改动）', 'header MAC mismatch', { chunk: 0 });
  return { json, keys, aad: Buffer.from(digest) };
}

/**
 * Encrypted backup in, plaintext out; emits 'header' (BackupHeaderInfo) once the header is proven.
 * Every chunk is authenticated before any of its bytes go on, so what downstream sees is always
 * genuine — but a stream may still stop with BACKUP_CORRUPT later: consumers must stage, not commit.
 */
export class DecryptStream extends Transform {
  private readonly q = new ByteQueue();
  private state: 'header' | 'body' = 'header';
  private keys?: Keys;
  private prefix: Buffer = Buffer.alloc(7);
  private aad: Buffer = Buffer.alloc(32);
  private counter = 0;
  private offset = 0;
  info?: BackupHeaderInfo;

  constructor(private readonly source: BackupKeySource) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.q.push(chunk);
    this.pump(false).then(() => cb(), (e: Error) => cb(e));
  }

  override _flush(cb: TransformCallback): void {
    this.pump(true).then(() => cb(), (e: Error) => cb(e));
  }

  private async pump(end: boolean): Promise<void> {
    if (this.state === 'header') {
      const len = headerLength(this.q);
      if (len === undefined || this.q.length < len) {
        if (end) throw this.q.length >= PREFIX ? corrupt('文件过短，文件头不完整', 'file shorter than its header', { chunk: 0 }) : notBackup('file too short');
        return;
      }
      const raw = this.q.take(len);
      const { json, keys, aad } = await openHeader(raw, this.source);
      this.keys = keys;
      this.aad = aad;
      this.prefix = Buffer.from(json.noncePrefix, 'hex');
      this.offset = len;
      this.info = { backupId: json.backupId, parentId: json.parentId ?? null, kind: json.kind, created: json.created };
      this.state = 'body';
      this.emit('header', this.info);
    }
    const whole = CHUNK_SIZE + TAG;
    // Opened chunks go downstream together, one push per input chunk (see EncryptStream).
    const out: Buffer[] = [];
    try {
      while (this.q.length > whole) out.push(this.open(this.q.take(whole), false));
      if (end) {
        if (this.q.length < TAG) throw corrupt(`文件被截断（第 ${this.counter + 1} 块不完整）`, `truncated at chunk ${this.counter + 1}`, { chunk: this.counter + 1, offset: this.offset, reason: 'truncated' });
        out.push(this.open(this.q.take(this.q.length), true));
      }
    } finally {
      // What was authenticated before a bad chunk still goes on: downstream stages it, and the
      // error that follows tells it to throw the staging away.
      const pt = out.length === 1 ? out[0] : Buffer.concat(out);
      if (pt.length) this.push(pt);
    }
  }

  private tryOpen(sealed: Buffer, counter: number, final: boolean): Buffer | undefined {
    const d = createDecipheriv('aes-256-gcm', this.keys!.enc, nonce(this.prefix, counter, final));
    d.setAAD(this.aad);
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    const pt = d.update(sealed.subarray(0, sealed.length - TAG));
    try {
      d.final();
      return pt;
    } catch {
      return undefined;
    }
  }

  private open(sealed: Buffer, final: boolean): Buffer {
    const n = this.counter + 1;
    const pt = this.tryOpen(sealed, this.counter, final);
    if (!pt) {
      // Name the likely cause: a last chunk that opens as a middle one means the file was cut short.
      if (final && this.tryOpen(sealed, this.counter, false)) {
        throw corrupt(`文件被截断（第 ${n} 块之后的内容缺失）`, `truncated after chunk ${n}`, { chunk: n, offset: this.offset, reason: 'truncated' });
      }
      throw corrupt(`第 ${n} 块（偏移 ${this.offset}）认证失败（内容被改动、顺序被调换或被截断）`, `chunk ${n} at offset ${this.offset} failed authentication`, { chunk: n, offset: this.offset, reason: 'auth' });
    }
    this.counter++;
    this.offset += sealed.length;
    return pt;
  }
}

/** Read and authenticate only the header of a backup file (for chain order and listings). */
export async function readBackupHeader(path: string, source: BackupKeySource): Promise<BackupHeaderInfo> {
  const fh = await open(path, 'r').catch((e: Error) => {
    throw new ApplianceError('BACKUP_NOT_FOUND', `无法打开备份文件：${path}（${e.message}）`, `cannot open backup ${path}`, { cause: e });
  });
  try {
    const q = new ByteQueue();
    const first = Buffer.alloc(PREFIX);
    const { bytesRead } = await fh.read(first, 0, PREFIX, 0);
    q.push(first.subarray(0, bytesRead));
    const len = headerLength(q);
    if (len === undefined) throw notBackup('file too short');
    const raw = Buffer.alloc(len);
    const r = await fh.read(raw, 0, len, 0);
    if (r.bytesRead < len) throw corrupt('文件过短，文件头不完整', 'file shorter than its header', { chunk: 0 });
    const { json } = await openHeader(raw, source);
    return { backupId: json.backupId, parentId: json.parentId ?? null, kind: json.kind, created: json.created };
  } finally {
    await fh.close();
  }
}
