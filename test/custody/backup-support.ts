import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { Header } from 'tar';
import { ItemStore, listTree } from '../../ingest/index.ts';
import { type ItemMetadata } from '../../core/index.ts';
import { SealedFileWriter } from '../../custody/backup-stream.ts';
import { addRecipient, generateIdentity, loadOrCreateSigningKey, openIdentity, signerRaw, type BackupIdentity, type SigningKey } from '../../custody/backup-keys.ts';
import { newBackupHeader, type BackupOpenKey } from '../../custody/backup-crypto.ts';
import { stageItem } from '../support/staged-item.ts';

export const PASSPHRASE = '正确的马 battery staple 2026';
/** scrypt at 4 MiB instead of 128: the tests open identities often; the format records the cost. */
export const TEST_SCRYPT = { N: 1 << 12, r: 8, p: 1 };

/** The 安全保密管理员's key pair on "removable media" (files under dir), as archive backup keygen writes it. */
export interface Secadmin {
  identityPath: string;
  pubPath: string;
  passPath: string;
  publicKey: string;
  identity: BackupIdentity;
}

export async function makeSecadmin(dir: string, name = 'secadmin'): Promise<Secadmin> {
  const { identityFile, publicKey } = await generateIdentity(PASSPHRASE, TEST_SCRYPT);
  const identityPath = join(dir, `${name}.key`);
  await writeFile(identityPath, identityFile, { mode: 0o600 });
  await writeFile(`${identityPath}.pub`, `${publicKey}\n`);
  const passPath = join(dir, `${name}.pass`);
  await writeFile(passPath, `${PASSPHRASE}\n`, { mode: 0o600 });
  return { identityPath, pubPath: `${identityPath}.pub`, passPath, publicKey, identity: await openIdentity(identityPath, PASSPHRASE) };
}

/** Register the secadmin's public key on an appliance; the key that opens its backups (its own signer trusted). */
export async function enrol(dataDir: string, s: Secadmin): Promise<BackupOpenKey> {
  await addRecipient(dataDir, s.publicKey, { actor: { actor: 'console', role: '安全保密管理员', source: 'test' } });
  const signing = await loadOrCreateSigningKey(dataDir);
  return { identity: s.identity, trustedSigners: [signing.publicKey] };
}

/** A signing key of nobody's appliance (an attacker's, or a hand-made archive's). */
export function newSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicRaw = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x as string, 'base64url');
  const publicKey = `ARCHBK1-ED25519-${publicRaw.toString('base64url')}`;
  signerRaw(publicKey);
  return { privateKey, pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }), publicRaw, publicKey };
}

/** Seal plaintext into a backup file in the real format, to the given recipients, signed by `signing`. */
export async function sealPlaintext(
  out: string,
  plaintext: Buffer,
  recipients: string[],
  signing: SigningKey,
  info = { backupId: 'bk-20260101T000000Z-abcdef', parentId: null, kind: 'full' as const, created: new Date().toISOString() },
): Promise<void> {
  const { header, chunks } = newBackupHeader(recipients, signing, info);
  const sink = SealedFileWriter.create(out, header, chunks, signing.pkcs8);
  await sink.write(plaintext);
  await sink.end();
}

/** A real PDF with n blank pages (the integrity check opens it with pdf-lib). */
export async function pdfWithPages(n: number): Promise<Buffer> {
  const doc = await PDFDocument.create();
  for (let i = 0; i < n; i++) doc.addPage([200, 300]);
  return Buffer.from(await doc.save());
}

export interface MakeItemOptions {
  pages?: number;
  itemNo?: number;
  title?: string;
  /** Size of the original scan (random bytes). */
  originalBytes?: number;
  /** Keep stageItem's random, unopenable document.pdf. */
  badPdf?: boolean;
}

/** Store an item without OCR: staged folder → ItemStore.putItem, with a real PDF and a 档号. */
export async function makeItem(store: ItemStore, scratch: string, o: MakeItemOptions = {}): Promise<ItemMetadata> {
  const pages = o.pages ?? 2;
  const s = await stageItem(scratch, {
    pages,
    originals: [{ name: 'scan.tif', bytes: randomBytes(o.originalBytes ?? 4096) }],
    meta: { ...(o.itemNo ? { archivalCode: `J012-2014-Y-BGS-${String(o.itemNo).padStart(4, '0')}` } : {}), title: o.title ?? `关于档案数字化工作的通知 ${o.itemNo ?? ''}` },
  });
  if (!o.badPdf) await writeFile(join(s.dir, 'document.pdf'), await pdfWithPages(pages));
  return store.putItem(s);
}

/** SHA-256 of every file under dir (relative path → hash), skipping the given top-level names. */
export async function treeHashes(dir: string, keep: (rel: string) => boolean = () => true): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of (await listTree(dir)).files) {
    if (!keep(f)) continue;
    const h = createHash('sha256');
    for await (const c of createReadStream(join(dir, f))) h.update(c as Buffer);
    out.set(f, h.digest('hex'));
  }
  return out;
}

export interface CraftEntry {
  path: string;
  type?: 'File' | 'SymbolicLink' | 'Link' | 'Directory';
  linkpath?: string;
  data?: Buffer;
}

/** Encrypt a hand-made tar with the real backup format (to feed restore what an attacker would). */
export async function craftBackup(out: string, entries: CraftEntry[], recipients: string[], signing: SigningKey): Promise<void> {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const h = new Header({ path: e.path, type: e.type ?? 'File', linkpath: e.linkpath, size: e.type && e.type !== 'File' ? 0 : data.length, mode: 0o644, mtime: new Date() });
    h.encode();
    blocks.push(h.block!);
    if (data.length && (!e.type || e.type === 'File')) blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  await sealPlaintext(out, Buffer.concat(blocks), recipients, signing);
}

/** Length of the header of a backup file (where chunk 1 starts). */
export function headerLength(file: Buffer): number {
  return 13 + file.readUInt32BE(9) + 32;
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<{ code: string; zh: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; zh: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a failure');
}
