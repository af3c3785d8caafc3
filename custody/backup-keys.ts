import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, scrypt, type KeyObject } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { dataPath, ApplianceError, writeFileAtomic } from '../core/index.ts';
import { AuditLog, type AuditEntry } from '../security/index.ts';

/**
 * The keys of backup format v2 (docs/FORMATS.md, “Backups”):
 * - recipient key pairs (X25519): the public half is registered on the appliance, the private half
 *   (an "identity") lives with the 安全保密管理员 on removable media, sealed under a passphrase
 *   (scrypt → AES-256-GCM). Only an identity opens a backup.
 * - the appliance's signing key (Ed25519, config/backup-signing-key.json, 0600): every backup is
 *   signed with it, so a backup made or re-encrypted elsewhere is refused. It opens nothing.
 */
export const RECIPIENT_PREFIX = 'ARCHBK1-X25519-';
export const SIGNER_PREFIX = 'ARCHBK1-ED25519-';
/** scrypt cost for sealing an identity: 64 MiB (the memory the old argon2id setting used); paid once per verify or restore, not per byte. */
export const IDENTITY_SCRYPT = { N: 1 << 16, r: 8, p: 1 } as const;
const MIN_PASSPHRASE = 12;

const b64u = (b: Buffer) => b.toString('base64url');

export const fingerprint = (raw: Buffer): string => createHash('sha256').update(raw).digest('hex').slice(0, 16);

function badPublic(text: string, kind: string): ApplianceError {
  return new ApplianceError(
    'BACKUP_BAD_PUBLIC_KEY',
    `不是有效的${kind}公钥：${text.slice(0, 60)}（应以 ${kind === '备份接收' ? RECIPIENT_PREFIX : SIGNER_PREFIX} 开头）。`,
    `not a valid ${kind === '备份接收' ? 'recipient' : 'signer'} public key`,
    { status: 400 },
  );
}

function rawFrom(text: string, prefix: string, kind: string): Buffer {
  const t = text.trim();
  if (!t.startsWith(prefix)) throw badPublic(t, kind);
  const body = t.slice(prefix.length);
  const raw = /^[A-Za-z0-9_-]{43}$/.test(body) ? Buffer.from(body, 'base64url') : Buffer.alloc(0);
  if (raw.length !== 32) throw badPublic(t, kind);
  return raw;
}

/** Raw 32 bytes of a recipient public key "ARCHBK1-X25519-…". */
export const recipientRaw = (text: string): Buffer => rawFrom(text, RECIPIENT_PREFIX, '备份接收');
/** Raw 32 bytes of a signer public key "ARCHBK1-ED25519-…". */
export const signerRaw = (text: string): Buffer => rawFrom(text, SIGNER_PREFIX, '备份签名');
export const recipientText = (raw: Buffer): string => RECIPIENT_PREFIX + b64u(raw);
export const signerText = (raw: Buffer): string => SIGNER_PREFIX + b64u(raw);

export const x25519Public = (raw: Buffer): KeyObject => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(raw) }, format: 'jwk' });
export const x25519Private = (d: Buffer, x: Buffer): KeyObject => createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(x), d: b64u(d) }, format: 'jwk' });
export const ed25519Public = (raw: Buffer): KeyObject => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(raw) }, format: 'jwk' });
const rawOf = (k: KeyObject, part: 'x' | 'd'): Buffer => Buffer.from(k.export({ format: 'jwk' })[part] as string, 'base64url');

/** X25519 of a private and a public key; all-zero (a low-order public key) is refused. */
export function x25519(priv: KeyObject, pub: KeyObject): Buffer {
  const s = diffieHellman({ privateKey: priv, publicKey: pub });
  if (s.every((b) => b === 0)) throw new ApplianceError('BACKUP_BAD_PUBLIC_KEY', '接收方公钥无效（低阶点）。', 'low-order X25519 public key', { status: 400 });
  return s;
}

/** An opened identity: the 安全保密管理员's private key, in memory only. */
export interface BackupIdentity {
  privateKey: KeyObject;
  publicRaw: Buffer;
  publicKey: string;
}

interface IdentityFile {
  format: 'archive-backup-identity';
  v: 1;
  type: 'X25519';
  publicKey: string;
  created: string;
  kdf: { alg: 'scrypt'; N: number; r: number; p: number; salt: string };
  nonce: string;
  sealedKey: string;
}

function scryptKey(passphrase: string, salt: Buffer, k: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((res, rej) => scrypt(passphrase.normalize('NFC'), salt, 32, { N: k.N, r: k.r, p: k.p, maxmem: 256 * k.N * k.r + 64 * 1024 * 1024 }, (e, key) => (e ? rej(e) : res(key))));
}

export function assertPassphrase(passphrase: string): void {
  if ([...passphrase].length < MIN_PASSPHRASE)
    throw new ApplianceError('BACKUP_WEAK_PASSPHRASE', `私钥保护口令至少 ${MIN_PASSPHRASE} 个字符（私钥文件会离开机房，须经得起离线猜测）。`, `passphrase shorter than ${MIN_PASSPHRASE}`, {
      status: 400,
    });
}

/** A new recipient key pair: the identity file's text (private key sealed under the passphrase) and the public key. */
export async function generateIdentity(passphrase: string, cost: { N: number; r: number; p: number } = IDENTITY_SCRYPT): Promise<{ identityFile: string; publicKey: string }> {
  assertPassphrase(passphrase);
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const pub = recipientText(rawOf(publicKey, 'x'));
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const kek = await scryptKey(passphrase, salt, cost);
  const c = createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(Buffer.from(pub, 'utf8'));
  const sealed = Buffer.concat([c.update(rawOf(privateKey, 'd')), c.final(), c.getAuthTag()]);
  const file: IdentityFile = {
    format: 'archive-backup-identity',
    v: 1,
    type: 'X25519',
    publicKey: pub,
    created: new Date().toISOString(),
    kdf: { alg: 'scrypt', ...cost, salt: salt.toString('base64') },
    nonce: nonce.toString('base64'),
    sealedKey: sealed.toString('base64'),
  };
  return { identityFile: `${JSON.stringify(file, null, 2)}\n`, publicKey: pub };
}

const badIdentity = (path: string, why: string) => new ApplianceError('BACKUP_IDENTITY_INVALID', `私钥文件 ${path} 无效：${why}。`, `identity file ${path} invalid: ${why}`, { status: 400 });

/** Open an identity file with its passphrase. BACKUP_BAD_PASSPHRASE when the passphrase is wrong. */
export async function openIdentity(path: string, passphrase: string): Promise<BackupIdentity> {
  let f: IdentityFile;
  try {
    f = JSON.parse(await readFile(path, 'utf8')) as IdentityFile;
  } catch (e) {
    throw new ApplianceError('BACKUP_IDENTITY_INVALID', `无法读取私钥文件：${path}（${(e as Error).message}）`, `cannot read identity ${path}`, { status: 400 });
  }
  if (f?.format !== 'archive-backup-identity' || f.v !== 1 || f.type !== 'X25519' || f.kdf?.alg !== 'scrypt') throw badIdentity(path, '格式或版本不符（请检查是否误用了 .pub 公钥文件）');
  const k = f.kdf;
  if (!(Number.isInteger(k.N) && k.N >= 1024 && k.N <= 1 << 22 && (k.N & (k.N - 1)) === 0 && k.r >= 1 && k.r <= 32 && k.p >= 1 && k.p <= 16)) throw badIdentity(path, 'scrypt 参数超出范围');
  const pubRaw = recipientRaw(f.publicKey);
  const kek = await scryptKey(passphrase, Buffer.from(f.kdf.salt, 'base64'), k);
  const sealed = Buffer.from(f.sealedKey, 'base64');
  const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(f.nonce, 'base64'));
  d.setAAD(Buffer.from(f.publicKey, 'utf8'));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  let raw: Buffer;
  try {
    raw = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  } catch {
    throw new ApplianceError('BACKUP_BAD_PASSPHRASE', '私钥保护口令不正确（或私钥文件被改动），无法打开私钥。', 'wrong passphrase for the identity file', { status: 400 });
  }
  const privateKey = x25519Private(raw, pubRaw);
  // The sealed key must be the one the file names (else a swapped public key would mislead the holder).
  if (!rawOf(createPublicKey(privateKey), 'x').equals(pubRaw)) throw badIdentity(path, '私钥与公钥不对应');
  return { privateKey, publicRaw: pubRaw, publicKey: f.publicKey };
}

// ---- the appliance's signing key -------------------------------------------------------------

export interface SigningKey {
  privateKey: KeyObject;
  /** PKCS#8 DER, for the worker thread that signs. */
  pkcs8: Buffer;
  publicRaw: Buffer;
  publicKey: string;
}

interface SigningKeyFile {
  format: 'archive-backup-signing-key';
  v: 1;
  type: 'Ed25519';
  publicKey: string;
  created: string;
  privateKey: string;
}

export const signingKeyPath = (dataDir: string) => dataPath(dataDir, 'config', 'backup-signing-key.json');

function parseSigningKey(text: string): SigningKey {
  const f = JSON.parse(text) as SigningKeyFile;
  if (f.format !== 'archive-backup-signing-key' || f.v !== 1 || f.type !== 'Ed25519') throw new Error('not a signing key file');
  const pkcs8 = Buffer.from(f.privateKey, 'base64');
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const publicRaw = rawOf(createPublicKey(privateKey), 'x');
  if (signerText(publicRaw) !== f.publicKey) throw new Error('public key does not match the private key');
  return { privateKey, pkcs8, publicRaw, publicKey: f.publicKey };
}

/** The appliance's signing key, made once (exclusive create, 0600) the first time a backup needs it. */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const path = signingKeyPath(dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (text !== undefined) {
      try {
        return parseSigningKey(text);
      } catch (e) {
        throw new ApplianceError(
          'BACKUP_SIGNING_KEY',
          `本机备份签名密钥文件 ${path} 已损坏：${(e as Error).message}。备份已拒绝（不会另生成新密钥以免旧备份无法校验）。`,
          `signing key file damaged: ${(e as Error).message}`,
          { status: 500 },
        );
      }
    }
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const file: SigningKeyFile = {
      format: 'archive-backup-signing-key',
      v: 1,
      type: 'Ed25519',
      publicKey: signerText(rawOf(publicKey, 'x')),
      created: new Date().toISOString(),
      privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    };
    try {
      const fh = await open(path, 'wx', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(file, null, 2)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Another process made it meanwhile: read theirs.
    }
  }
  throw new ApplianceError('BACKUP_SIGNING_KEY', `无法创建本机备份签名密钥：${path}`, 'cannot create signing key', { status: 500 });
}

/** The appliance's signing public key, if it has one (verify trusts it by default). */
export async function localSignerKey(dataDir: string): Promise<string | undefined> {
  const text = await readFile(signingKeyPath(dataDir), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return parseSigningKey(text).publicKey;
  } catch {
    return undefined;
  }
}

// ---- registered recipients -------------------------------------------------------------------

export interface RegisteredRecipient {
  publicKey: string;
  fingerprint: string;
  label: string;
  addedBy: string;
  addedAt: string;
}

const recipientsPath = (dataDir: string) => dataPath(dataDir, 'config', 'backup-recipients.json');

export async function listRecipients(dataDir: string): Promise<RegisteredRecipient[]> {
  const text = await readFile(recipientsPath(dataDir), 'utf8').catch(() => undefined);
  if (text === undefined) return [];
  const f = JSON.parse(text) as { v: 1; recipients: RegisteredRecipient[] };
  for (const r of f.recipients) recipientRaw(r.publicKey);
  return f.recipients;
}

/** Register a recipient (the 安全保密管理员's act; audited). At most two: the secadmin's and one kept sealed off-site. */
export async function addRecipient(dataDir: string, publicKey: string, opts: { label?: string; actor: Pick<AuditEntry, 'actor' | 'role' | 'source'> }): Promise<RegisteredRecipient> {
  const raw = recipientRaw(publicKey);
  x25519(generateKeyPairSync('x25519').privateKey, x25519Public(raw));
  const list = await listRecipients(dataDir);
  const audit = new AuditLog(dataPath(dataDir, 'audit'));
  const fp = fingerprint(raw);
  if (list.some((r) => r.fingerprint === fp)) throw new ApplianceError('BACKUP_RECIPIENT_EXISTS', `该公钥已登记（指纹 ${fp}）。`, 'recipient already registered', { status: 409 });
  if (list.length >= 4) throw new ApplianceError('BACKUP_RECIPIENTS_FULL', '最多登记 4 个备份接收公钥。', 'at most 4 recipients', { status: 400 });
  const rec: RegisteredRecipient = {
    publicKey: recipientText(raw),
    fingerprint: fp,
    label: opts.label ?? (list.length ? '异地封存' : '安全保密管理员'),
    addedBy: opts.actor.actor,
    addedAt: new Date().toISOString(),
  };
  await writeFileAtomic(recipientsPath(dataDir), `${JSON.stringify({ v: 1, recipients: [...list, rec] }, null, 2)}\n`);
  await audit.append({ ...opts.actor, action: 'backup.recipient.add', target: fp, outcome: 'success', details: { publicKey: rec.publicKey, label: rec.label, asRole: '安全保密管理员' } });
  await audit.settle();
  return rec;
}
