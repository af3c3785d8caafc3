import { createCipheriv, createDecipheriv, createHash, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { ApplianceError } from '../core/index.ts';
import { fingerprint, recipientRaw, signerRaw, signerText, x25519, x25519Public, type BackupIdentity, type SigningKey } from './backup-keys.ts';

/** What seals or opens the chunks of one backup file. */
export interface ChunkParams {
  key: Buffer;
  prefix: Buffer;
  aad: Buffer;
  chunkSize: number;
}

/**
 * The encrypted backup format, version 2 (every byte in docs/FORMATS.md, “Backups”):
 *
 *   "ARCHBKUP" | u8 version (2) | u32 BE length | header JSON | SHA-256(all before)
 *   chunks: AES-256-GCM(plaintext ≤ 64 KiB) ‖ 16-byte tag, one after another
 *   Ed25519 signature (64 bytes) by the appliance over SIG_DOMAIN ‖ SHA-256(every byte before it)
 *
 * A random 32-byte file key is wrapped for each recipient (X25519 with a fresh ephemeral key,
 * HKDF-SHA256, AES-256-GCM); the chunks' key is HKDF(file key). Chunk nonce: noncePrefix(7) ‖
 * u32 counter ‖ final flag(1); AAD: the header's SHA-256. Whoever holds only public keys (the
 * 系统管理员) can make a backup but not open one; the signature, which covers the header (so the
 * wrapped keys) and every ciphertext byte, makes a backup re-encrypted or forged without the
 * appliance's signing key fail, and the signer must be one the opener trusts.
 */
export const BACKUP_MAGIC = Buffer.from('ARCHBKUP', 'latin1');
export const BACKUP_FORMAT_VERSION = 2;
export const CHUNK_SIZE = 64 * 1024;
export const SIG_LEN = 64;
export const SIG_DOMAIN = Buffer.from('archive-backup v2 signature\n', 'utf8');
const WRAP_INFO = 'archive-backup v2 X25519 wrap';
const PAYLOAD_INFO = 'archive-backup v2 payload';
const PREFIX = 13; // magic + version + length
const MAX_HEADER_JSON = 64 * 1024;

export interface BackupHeaderInfo {
  backupId: string;
  parentId: string | null;
  kind: 'full' | 'incremental';
  created: string;
}

interface RecipientStanza {
  type: 'X25519';
  fingerprint: string;
  ephemeral: string;
  wrappedKey: string;
}

interface HeaderJson extends BackupHeaderInfo {
  v: 2;
  chunkSize: number;
  noncePrefix: string;
  recipients: RecipientStanza[];
  signer: { type: 'Ed25519'; publicKey: string };
}

export function corrupt(what: string, en: string, details: Record<string, unknown> = {}): ApplianceError {
  return new ApplianceError('BACKUP_CORRUPT', `备份文件已损坏或被篡改：${what}。该备份不能用于恢复。`, `backup corrupt: ${en}`, { status: 400, details });
}

const notBackup = (why: string, zh = why) => new ApplianceError('BACKUP_FORMAT', `不是本系统的备份文件，或格式版本不受支持（${zh}）。`, `not an appliance backup: ${why}`, { status: 400 });

export const badSignature = () =>
  new ApplianceError('BACKUP_BAD_SIGNATURE', '备份签名不符：该备份不是本设备所做，或在签名后被改动、被重新加密。该备份不能用于恢复。', 'backup signature does not verify', {
    status: 400,
    details: { reason: 'signature' },
  });

const untrustedSigner = (fp: string) =>
  new ApplianceError('BACKUP_SIGNER_UNTRUSTED', `备份由未受信任的签名密钥（指纹 ${fp}）签名：不是本设备（或 --signer 所指设备）所做的备份，已拒绝。`, `backup signed by an untrusted key ${fp}`, {
    status: 400,
    details: { signer: fp },
  });

export const noRecipient = () =>
  new ApplianceError('BACKUP_NOT_A_RECIPIENT', '所给私钥不是该备份的接收方（或私钥不对应），无法解密。备份文件本身未被判定为损坏。', 'the identity is not a recipient of this backup', { status: 400 });

const hkdf = (ikm: Buffer, salt: Buffer, info: string) => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));

/** Wrap the file key for one recipient (public key text). */
function wrapFor(recipient: string, fileKey: Buffer): RecipientStanza {
  const raw = recipientRaw(recipient);
  const eph = generateKeyPairSync('x25519');
  const ephRaw = Buffer.from(eph.publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const shared = x25519(eph.privateKey, x25519Public(raw));
  const c = createCipheriv('aes-256-gcm', hkdf(shared, Buffer.concat([ephRaw, raw]), WRAP_INFO), Buffer.alloc(12));
  const wrapped = Buffer.concat([c.update(fileKey), c.final(), c.getAuthTag()]);
  return { type: 'X25519', fingerprint: fingerprint(raw), ephemeral: ephRaw.toString('base64'), wrappedKey: wrapped.toString('base64') };
}

/** The file key, if `id` is one of the header's recipients. */
function unwrap(stanzas: RecipientStanza[], id: BackupIdentity): Buffer | undefined {
  for (const s of stanzas) {
    if (s?.type !== 'X25519' || typeof s.ephemeral !== 'string' || typeof s.wrappedKey !== 'string') continue;
    const ephRaw = Buffer.from(s.ephemeral, 'base64');
    const wrapped = Buffer.from(s.wrappedKey, 'base64');
    if (ephRaw.length !== 32 || wrapped.length !== 48) continue;
    let shared: Buffer;
    try {
      shared = x25519(id.privateKey, x25519Public(ephRaw));
    } catch {
      continue;
    }
    const d = createDecipheriv('aes-256-gcm', hkdf(shared, Buffer.concat([ephRaw, id.publicRaw]), WRAP_INFO), Buffer.alloc(12));
    d.setAuthTag(wrapped.subarray(32));
    try {
      return Buffer.concat([d.update(wrapped.subarray(0, 32)), d.final()]);
    } catch {
      /* not ours: the next stanza */
    }
  }
  return undefined;
}

export interface NewBackupHeader {
  header: Buffer;
  chunks: ChunkParams;
}

/** Build the header of a new backup: a fresh file key wrapped for every recipient, the signer named. */
export function newBackupHeader(recipients: string[], signer: Pick<SigningKey, 'publicRaw'>, info: BackupHeaderInfo): NewBackupHeader {
  if (!recipients.length) throw new Error('no recipients');
  const fileKey = randomBytes(32);
  const prefix = randomBytes(7);
  const json: HeaderJson = {
    v: 2,
    ...info,
    chunkSize: CHUNK_SIZE,
    noncePrefix: prefix.toString('hex'),
    recipients: recipients.map((r) => wrapFor(r, fileKey)),
    signer: { type: 'Ed25519', publicKey: signerText(signer.publicRaw) },
  };
  const body = Buffer.from(JSON.stringify(json), 'utf8');
  const head = Buffer.alloc(PREFIX);
  BACKUP_MAGIC.copy(head, 0);
  head[8] = BACKUP_FORMAT_VERSION;
  head.writeUInt32BE(body.length, 9);
  const signed = Buffer.concat([head, body]);
  const digest = createHash('sha256').update(signed).digest();
  return { header: Buffer.concat([signed, digest]), chunks: { key: hkdf(fileKey, Buffer.alloc(0), PAYLOAD_INFO), prefix, aad: digest, chunkSize: CHUNK_SIZE } };
}

/** Length of the whole header from its first PREFIX bytes (checks magic and version). */
function headerLength(p: Buffer): number {
  if (p.length < PREFIX) throw notBackup('file too short', '文件过短');
  if (!p.subarray(0, 8).equals(BACKUP_MAGIC)) throw notBackup('magic bytes differ', '文件开头不是 ARCHBKUP');
  if (p[8] === 1) throw notBackup('format version 1 (passphrase backups) is no longer read', '格式版本 1：旧的口令加密备份，本版本不再读取；请用做该备份时的程序版本恢复');
  if (p[8] > BACKUP_FORMAT_VERSION) throw notBackup(`format version ${p[8]} is newer than this program`, `格式版本 ${p[8]} 由更新版本的程序写成，请用更新版本恢复`);
  if (p[8] !== BACKUP_FORMAT_VERSION) throw notBackup(`format version ${p[8]}`, `格式版本 ${p[8]}`);
  const len = p.readUInt32BE(9);
  if (len > MAX_HEADER_JSON) throw corrupt('文件头长度异常', `header length ${len}`, { chunk: 0 });
  return PREFIX + len + 32;
}

function parseHeader(raw: Buffer): { json: HeaderJson; digest: Buffer } {
  const signed = raw.subarray(0, raw.length - 32);
  const digest = raw.subarray(raw.length - 32);
  if (!createHash('sha256').update(signed).digest().equals(digest)) throw corrupt('文件头（第 0 块）校验失败', 'header digest mismatch', { chunk: 0 });
  let json: HeaderJson;
  try {
    json = JSON.parse(signed.subarray(PREFIX).toString('utf8')) as HeaderJson;
  } catch {
    throw corrupt('文件头无法解析', 'header JSON invalid', { chunk: 0 });
  }
  if (json.v !== 2 || json.chunkSize !== CHUNK_SIZE || !/^[0-9a-f]{14}$/.test(json.noncePrefix) || !Array.isArray(json.recipients) || json.signer?.type !== 'Ed25519')
    throw notBackup('header fields', '文件头字段不符');
  signerRaw(json.signer.publicKey);
  return { json, digest: Buffer.from(digest) };
}

/** A backup's header read and checked against its own digest; nothing decrypted, nothing trusted yet. */
export interface BackupEnvelope {
  info: BackupHeaderInfo;
  /** Where chunk 1 starts. */
  offset: number;
  /** The signer named in the header, and its fingerprint. */
  signer: string;
  signerFingerprint: string;
  recipients: string[];
  json: HeaderJson;
  digest: Buffer;
}

/** Read a backup's header (no key needed): what it is, who signed it, for whom it was encrypted. */
export async function readBackupEnvelope(path: string): Promise<BackupEnvelope> {
  const fh = await open(path, 'r').catch((e: Error) => {
    throw new ApplianceError('BACKUP_NOT_FOUND', `无法打开备份文件：${path}（${e.message}）`, `cannot open backup ${path}`, { cause: e });
  });
  try {
    const first = Buffer.alloc(PREFIX);
    const { bytesRead } = await fh.read(first, 0, PREFIX, 0);
    const len = headerLength(first.subarray(0, bytesRead));
    const raw = Buffer.alloc(len);
    const r = await fh.read(raw, 0, len, 0);
    if (r.bytesRead < len) throw corrupt('文件过短，文件头不完整', 'file shorter than its header', { chunk: 0 });
    const { json, digest } = parseHeader(raw);
    return {
      info: { backupId: json.backupId, parentId: json.parentId ?? null, kind: json.kind, created: json.created },
      offset: len,
      signer: json.signer.publicKey,
      signerFingerprint: fingerprint(signerRaw(json.signer.publicKey)),
      recipients: json.recipients.map((s) => String(s?.fingerprint)),
      json,
      digest,
    };
  } finally {
    await fh.close();
  }
}

/** The signer must be one of `trusted` (public key texts): else BACKUP_SIGNER_UNTRUSTED. */
export function assertTrustedSigner(env: BackupEnvelope, trusted: string[]): Buffer {
  const raw = signerRaw(env.signer);
  if (!trusted.some((t) => signerRaw(t).equals(raw))) throw untrustedSigner(env.signerFingerprint);
  return raw;
}

/** What opens a backup: a recipient's identity, and the signers trusted to have made it. */
export interface BackupOpenKey {
  identity: BackupIdentity;
  trustedSigners: string[];
}

export interface OpenedBackup {
  info: BackupHeaderInfo;
  offset: number;
  chunks: ChunkParams;
  /** Raw Ed25519 public key the trailer must verify under. */
  signer: Buffer;
}

/** Read a backup's header, check its signer is trusted, unwrap its file key with the identity. */
export async function openBackupFile(path: string, key: BackupOpenKey): Promise<OpenedBackup> {
  const env = await readBackupEnvelope(path);
  const signer = assertTrustedSigner(env, key.trustedSigners);
  const fileKey = unwrap(env.json.recipients, key.identity);
  if (!fileKey) throw noRecipient();
  return {
    info: env.info,
    offset: env.offset,
    signer,
    chunks: { key: hkdf(fileKey, Buffer.alloc(0), PAYLOAD_INFO), prefix: Buffer.from(env.json.noncePrefix, 'hex'), aad: env.digest, chunkSize: env.json.chunkSize },
  };
}

/** Read only the header of a backup file (for chain order and listings); its trust comes later. */
export async function readBackupHeader(path: string): Promise<BackupHeaderInfo> {
  return (await readBackupEnvelope(path)).info;
}
