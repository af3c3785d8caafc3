import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { appendFlushed } from './durable-append.ts';
import { ApplianceError, fsyncDir, writeFileAtomic } from '../core/index.ts';
import { canonicalJson } from './audit-record.ts';

/**
 * Forward-secure sealing of the audit trail (after systemd-journald's Forward Secure Sealing and
 * Bellare–Yee forward-secure MACs). The format is written down in docs/FORMATS.md, “Audit seals”.
 *
 * - k0, 32 random bytes, is the auditor's verification key; it leaves the machine once.
 * - The appliance keeps only the current sealing key k_i (audit/.seal-key). Seal i is
 *   HMAC-SHA256(k_i, canonical {v, key, i, seq, hash, time}) over the chain head (seq, hash) at
 *   that moment; right after it, k_{i+1} = HMAC-SHA256(k_i, "archive-audit-evolve") replaces k_i
 *   and the old key file is overwritten. The epoch is the seal index: a seal is made every
 *   SEAL_INTERVAL_MS while records arrive, or after SEAL_EVERY_RECORDS records, whichever first.
 * - Whoever holds k_n can compute k_n, k_{n+1}, … but never k_{n-1}: seals 0…n-1 cannot be
 *   re-made, and the verifier demands seal indices 0, 1, 2, … without a gap and the key file's
 *   k_i equal to evolve^i(k0), so neither an edit before the last seal nor cutting seals from
 *   the end goes unseen.
 */

export const SEALS_FILE = 'seals.jsonl';
/** Hidden: backups leave it out (a backup must never carry a key that can seal the live trail). */
export const SEAL_KEY_FILE = '.seal-key';
export const VERIFICATION_KEY_FILE = 'audit-verification-key.txt';
export const SEAL_INTERVAL_MS = 60_000;
export const SEAL_EVERY_RECORDS = 1000;
const EVOLVE_LABEL = 'archive-audit-evolve';
const KEY_ID_LABEL = 'archive-audit-key-id\0';
const VK_PREFIX = 'ARCHIVE-AUDIT-VK1';
const VK_RE = /ARCHIVE-AUDIT-VK1-([0-9a-f]{64})-([0-9a-f]{8})/gi;

export interface Seal {
  v: 1;
  /** Key id: which verification key this seal belongs to (a new one starts after `archive audit resume`). */
  key: string;
  /** Seal index = key epoch: sealed with k_i. */
  i: number;
  /** The chain head it seals: record seq and its hash. */
  seq: number;
  hash: string;
  time: string;
  mac: string;
}

export interface SealKeyState {
  v: 1;
  key: string;
  /** k_i is the key of the next seal, i. */
  i: number;
  k: string;
}

/** k_{i+1} from k_i: one way (HMAC-SHA256 with the key as key). */
export function evolveKey(k: Buffer): Buffer {
  return createHmac('sha256', k).update(EVOLVE_LABEL).digest();
}

/** k_i from k0 (the verifier's walk; i steps of evolveKey). */
export function keyAt(k0: Buffer, i: number): Buffer {
  let k = k0;
  for (let j = 0; j < i; j++) k = evolveKey(k);
  return k;
}

/** A short public name of a verification key: SHA-256 of a label and k0, 16 hex digits. Reveals nothing of k0. */
export function keyIdOf(k0: Buffer): string {
  return createHash('sha256').update(KEY_ID_LABEL).update(k0).digest('hex').slice(0, 16);
}

export function sealMac(k: Buffer, s: Omit<Seal, 'mac'>): string {
  const { v, key, i, seq, hash, time } = s;
  return createHmac('sha256', k).update(canonicalJson({ v, key, i, seq, hash, time })).digest('hex');
}

export function macMatches(k: Buffer, s: Seal): boolean {
  const want = Buffer.from(sealMac(k, s), 'hex');
  const got = Buffer.from(s.mac, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The printable form of k0: prefix, 64 hex digits, 8 hex digits of checksum (catches a typo). */
export function formatVerificationKey(k0: Buffer): string {
  const hex = k0.toString('hex');
  const sum = createHash('sha256').update(VK_PREFIX).update(k0).digest('hex').slice(0, 8);
  return `${VK_PREFIX}-${hex}-${sum}`;
}

/** Every verification key in a text (a file with one or more, or a pasted one; spaces and line breaks inside are ignored). */
export function parseVerificationKeys(text: string): Buffer[] {
  const flat = text.replace(/[\s]+/g, '');
  const keys: Buffer[] = [];
  for (const m of flat.matchAll(VK_RE)) {
    const k0 = Buffer.from(m[1].toLowerCase(), 'hex');
    if (formatVerificationKey(k0).slice(-8) !== m[2].toLowerCase()) {
      throw new ApplianceError('AUDIT_VKEY_CHECKSUM', '验证密钥校验码不符：请核对是否抄错（每一位都需一致）。', 'verification key checksum mismatch (mistyped?)', { status: 400 });
    }
    keys.push(k0);
  }
  if (!keys.length) throw new ApplianceError('AUDIT_VKEY_INVALID', `没有找到验证密钥：应为以 ${VK_PREFIX}- 开头的一行。`, 'no verification key found in the text', { status: 400 });
  return keys;
}

function validSeal(x: unknown): x is Seal {
  const s = x as Seal;
  return (
    !!s &&
    typeof s === 'object' &&
    s.v === 1 &&
    typeof s.key === 'string' &&
    Number.isInteger(s.i) &&
    s.i >= 0 &&
    Number.isInteger(s.seq) &&
    s.seq > 0 &&
    typeof s.hash === 'string' &&
    typeof s.time === 'string' &&
    typeof s.mac === 'string' &&
    /^[0-9a-f]{64}$/.test(s.mac)
  );
}

export function parseSeal(line: string): Seal | undefined {
  try {
    const s = JSON.parse(line) as unknown;
    return validSeal(s) ? s : undefined;
  } catch {
    return undefined;
  }
}

export function sealLine(s: Seal): string {
  const { v, key, i, seq, hash, time, mac } = s;
  return `${JSON.stringify({ v, key, i, seq, hash, time, mac })}\n`;
}

export async function readKeyState(dir: string): Promise<SealKeyState | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, SEAL_KEY_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const s = JSON.parse(text) as SealKeyState;
    if (s.v === 1 && typeof s.key === 'string' && Number.isInteger(s.i) && s.i >= 0 && /^[0-9a-f]{64}$/.test(s.k)) return s;
  } catch {
    /* below */
  }
  throw new ApplianceError('AUDIT_SEAL_KEY_CORRUPT', '审计封印密钥文件已损坏，已拒绝继续写入审计记录。请安全审计员用验证密钥运行 archive audit verify。', 'sealing key file is corrupt', {
    status: 503,
  });
}

/**
 * Replace the key file with `next`: the new one written and flushed beside it, renamed over it,
 * then the old one's bytes overwritten with zeros through a handle kept open across the rename
 * (on ext4 in place; flash and copy-on-write file systems may keep old blocks — README, limits).
 */
export async function writeKeyState(dir: string, next: SealKeyState): Promise<void> {
  const path = join(dir, SEAL_KEY_FILE);
  const tmp = join(dir, `.seal-key-${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(next)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  let old: number | undefined;
  try {
    old = openSync(path, 'r+');
  } catch {
    old = undefined;
  }
  try {
    await rename(tmp, path);
    await fsyncDir(dir);
    if (old !== undefined) {
      const size = fstatSync(old).size;
      writeSync(old, Buffer.alloc(size), 0, size, 0);
      fsyncSync(old);
      ftruncateSync(old, 0);
    }
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    if (old !== undefined) closeSync(old);
  }
}

/** The last seal in the file (undefined when there is none yet); throws when the file is missing or its tail is not a seal. */
export async function lastSeal(dir: string): Promise<Seal | undefined> {
  const fh = await open(join(dir, SEALS_FILE), 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT')
      throw new ApplianceError('AUDIT_SEALS_MISSING', '审计封印文件 seals.jsonl 缺失，已拒绝继续写入审计记录。请安全审计员用验证密钥运行 archive audit verify。', 'seals.jsonl missing', {
        status: 503,
      });
    throw e;
  });
  try {
    const { size } = await fh.stat();
    if (size === 0) return undefined;
    const start = Math.max(0, size - 4096);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const text = buf.toString('utf8').replace(/\n+$/, '');
    const s = parseSeal(text.slice(text.lastIndexOf('\n') + 1));
    if (!s) throw new ApplianceError('AUDIT_SEALS_CORRUPT', '审计封印文件 seals.jsonl 的最后一行无法解析，已拒绝继续写入审计记录。', 'last line of seals.jsonl is not a seal', { status: 503 });
    return s;
  } finally {
    await fh.close();
  }
}

/** Append one seal and flush it (never half a line: a failed write is cut back). */
export async function appendSeal(dir: string, s: Seal): Promise<void> {
  const fd = openSync(join(dir, SEALS_FILE), 'a', 0o600);
  try {
    await appendFlushed(fd, Buffer.from(sealLine(s)));
  } finally {
    closeSync(fd);
  }
}

/** Make seal i with k_i over (seq, hash), append it, then evolve the key and erase k_i. */
export async function sealHead(dir: string, state: SealKeyState, head: { seq: number; hash: string }, time: string): Promise<Seal> {
  const k = Buffer.from(state.k, 'hex');
  const base = { v: 1 as const, key: state.key, i: state.i, seq: head.seq, hash: head.hash, time };
  const seal: Seal = { ...base, mac: sealMac(k, base) };
  await appendSeal(dir, seal);
  await writeKeyState(dir, { v: 1, key: state.key, i: state.i + 1, k: evolveKey(k).toString('hex') });
  k.fill(0);
  return seal;
}

/** The default place of the verification key file for an audit dir inside a data dir: <data>/config/. */
export function defaultVerificationKeyFile(auditDir: string): string {
  return join(dirname(auditDir), 'config', VERIFICATION_KEY_FILE);
}

export function verificationKeyText(k0: Buffer, time: string): string {
  return [
    '# 档案检索一体机 审计封印验证密钥（安全审计员保管，离开本机后请在审计页确认以删除本文件）',
    '# archive appliance audit verification key: keep it off the machine; `archive audit verify --verification-key FILE`',
    `# 密钥指纹 key id: ${keyIdOf(k0)}    生成时间 created: ${time}`,
    formatVerificationKey(k0),
    '',
  ].join('\n');
}

/**
 * A new sealing key: k0 at random, the key file at index 0, the verification key file for the
 * auditor (0600, in config/), and seals.jsonl (created empty, so its loss shows). Returns the key id.
 */
export async function startSealing(dir: string, vkFile: string, time: string): Promise<string> {
  const k0 = randomBytes(32);
  const key = keyIdOf(k0);
  await mkdir(dirname(vkFile), { recursive: true, mode: 0o700 });
  await writeFileAtomic(vkFile, verificationKeyText(k0, time), 0o600);
  await writeKeyState(dir, { v: 1, key, i: 0, k: k0.toString('hex') });
  const fd = openSync(join(dir, SEALS_FILE), 'a', 0o600);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  await fsyncDir(dir);
  k0.fill(0);
  return key;
}

export interface PendingVerificationKey {
  keyId: string;
  text: string;
  key: string;
  createdAt: string;
}

/** The verification key still waiting in config/ for the auditor to take away, if any. */
export async function pendingVerificationKey(vkFile: string): Promise<PendingVerificationKey | undefined> {
  let text: string;
  try {
    text = await readFile(vkFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const [k0] = parseVerificationKeys(text);
  const st = await stat(vkFile);
  return { keyId: keyIdOf(k0), text, key: formatVerificationKey(k0), createdAt: st.mtime.toISOString() };
}

/** Erase the waiting verification key: overwritten with zeros, flushed, removed, the folder flushed. */
export async function eraseVerificationKey(vkFile: string): Promise<void> {
  const fh = await open(vkFile, 'r+');
  try {
    const { size } = await fh.stat();
    await fh.write(Buffer.alloc(size), 0, size, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rm(vkFile);
  await fsyncDir(dirname(vkFile));
}
