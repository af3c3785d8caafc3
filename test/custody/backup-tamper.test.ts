import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { ItemStore } from '../../ingest/index.ts';
import { CHUNK_SIZE, type BackupOpenKey, newBackupHeader, readBackupEnvelope } from '../../custody/backup-crypto.ts';
import { createBackup } from '../../custody/backup.ts';
import { loadOrCreateSigningKey, type SigningKey } from '../../custody/backup-keys.ts';
import { restoreBackup } from '../../custody/backup-restore.ts';
import { verifyBackup } from '../../custody/backup-verify.ts';
import { verifyBackupStructure } from '../../custody/backup-structure.ts';
import { SealedFileWriter, openBackupForReading } from '../../custody/backup-stream.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { craftBackup, enrol, failure, headerLength, makeItem, makeSecadmin, newSigningKey, type Secadmin } from './backup-support.ts';

const SEALED = CHUNK_SIZE + 16;

describe('backup: damage, wrong keys and hostile archives', () => {
  let root: string;
  let good: Buffer;
  let goodFile: string;
  let n = 0;
  let sec: Secadmin;
  let KEY: BackupOpenKey;
  let signing: SigningKey;
  const craft = (out: string, entries: Parameters<typeof craftBackup>[1]) => craftBackup(out, entries, [sec.publicKey], signing);

  beforeAll(async () => {
    root = await tempDir('backup-tamper-');
    const cfg = loadConfig({ overrides: { dataDir: join(root, 'data') } });
    sec = await makeSecadmin(root);
    KEY = await enrol(cfg.dataDir, sec);
    signing = await loadOrCreateSigningKey(cfg.dataDir);
    const store = await ItemStore.open(cfg.dataDir);
    // ~400 KB of plaintext: header + at least six chunks.
    for (let i = 1; i <= 3; i++) await makeItem(store, root, { itemNo: i, originalBytes: 130_000 });
    goodFile = join(root, 'good.bak');
    // Flushing every 100 KB: the writes to disk alongside encryption happen several times here too.
    await createBackup(cfg, { out: goodFile, flushEvery: 100_000 });
    good = await readFile(goodFile);
    expect(good.length).toBeGreaterThan(headerLength(good) + 5 * SEALED);
  });
  afterAll(() => cleanup(root));

  /** A changed copy, verified and restored: both must fail the same way and write nothing. */
  async function expectRefused(bytes: Buffer, code: string) {
    const file = join(root, `bad-${++n}.bak`);
    await writeFile(file, bytes);
    const v = await failure(verifyBackup([file], KEY));
    expect(v.code).toBe(code);
    const target = join(root, `restore-${n}`, 'data');
    const r = await failure(restoreBackup([file], { dataDir: target, key: KEY, reindex: false }));
    expect(r.code).toBe(code);
    expect(existsSync(target)).toBe(false);
    expect(await readdir(join(root, `restore-${n}`)).catch(() => [])).toEqual([]);
    return v;
  }

  it('the untouched backup verifies (control)', async () => {
    const r = await verifyBackup([goodFile], KEY);
    expect(r.backups[0].items).toBe(3);
  });

  it("another recipient's key: BACKUP_NOT_A_RECIPIENT in Chinese, nothing restored", async () => {
    const other = await makeSecadmin(root, 'someone-else');
    const wrong = { identity: other.identity, trustedSigners: KEY.trustedSigners };
    const v = await failure(verifyBackup([goodFile], wrong));
    expect(v.code).toBe('BACKUP_NOT_A_RECIPIENT');
    expect(v.zh).toMatch(/私钥/);
    const target = join(root, 'wrong-key');
    expect((await failure(restoreBackup([goodFile], { dataDir: target, key: wrong, reindex: false }))).code).toBe('BACKUP_NOT_A_RECIPIENT');
    expect(existsSync(target)).toBe(false);
  });

  it('the structure and signature check (no secret) passes the good file and refuses damage', async () => {
    const r = await verifyBackupStructure([goodFile], KEY.trustedSigners);
    expect(r).toMatchObject({ ok: true, contentChecked: false, chain: true });
    const b = Buffer.from(good);
    b[headerLength(good) + 2 * SEALED + 1000] ^= 0x80;
    expect((await failure(verifyBackupStructure([await write(b)], KEY.trustedSigners))).code).toBe('BACKUP_BAD_SIGNATURE');
    expect((await failure(verifyBackupStructure([goodFile], [newSigningKey().publicKey]))).code).toBe('BACKUP_SIGNER_UNTRUSTED');
  });

  it('one flipped byte in the header is corruption, not a wrong key', async () => {
    for (const at of [3, 20, headerLength(good) - 40, headerLength(good) - 5]) {
      const b = Buffer.from(good);
      b[at] ^= 0x01;
      const e = await failure(verifyBackup([await write(b)], KEY));
      expect(['BACKUP_CORRUPT', 'BACKUP_FORMAT']).toContain(e.code);
    }
    const b = Buffer.from(good);
    b[30] ^= 0x10;
    const v = await expectRefused(b, 'BACKUP_CORRUPT');
    expect(v.details?.chunk).toBe(0);
  });

  it('one flipped byte in a middle chunk names that chunk', async () => {
    const b = Buffer.from(good);
    b[headerLength(good) + 2 * SEALED + 1000] ^= 0x80;
    const v = await expectRefused(b, 'BACKUP_CORRUPT');
    expect(v.details?.chunk).toBe(3);
    expect(v.zh).toMatch(/第 3 块/);
  });

  it('one flipped byte in the last chunk (and in its tag), and in the signature', async () => {
    const chunks = Math.ceil((good.length - 64 - headerLength(good)) / SEALED);
    for (const back of [64 + 30, 64 + 1]) {
      const b = Buffer.from(good);
      b[b.length - back] ^= 0x01;
      const v = await expectRefused(b, 'BACKUP_CORRUPT');
      expect(v.details?.chunk).toBe(chunks);
    }
    for (const back of [1, 64]) {
      const b = Buffer.from(good);
      b[b.length - back] ^= 0x01;
      await expectRefused(b, 'BACKUP_BAD_SIGNATURE');
    }
  });

  it('a file truncated at a chunk boundary or mid-chunk', async () => {
    const atBoundary = await expectRefused(good.subarray(0, headerLength(good) + 3 * SEALED), 'BACKUP_CORRUPT');
    expect(atBoundary.details?.reason).toBe('truncated');
    expect(atBoundary.zh).toMatch(/截断/);
    await expectRefused(good.subarray(0, good.length - 100), 'BACKUP_CORRUPT');
    await expectRefused(good.subarray(0, headerLength(good) - 10), 'BACKUP_CORRUPT');
    const appended = await failure(verifyBackup([await write(Buffer.concat([good, Buffer.from('appended')]))], KEY));
    expect(['BACKUP_CORRUPT', 'BACKUP_BAD_SIGNATURE']).toContain(appended.code);
  });

  it('two chunks swapped', async () => {
    const h = headerLength(good);
    const b = Buffer.from(good);
    good.copy(b, h + SEALED, h + 2 * SEALED, h + 3 * SEALED);
    good.copy(b, h + 2 * SEALED, h + SEALED, h + 2 * SEALED);
    const v = await expectRefused(b, 'BACKUP_CORRUPT');
    expect(v.details?.chunk).toBe(2);
  });

  /** The real plaintext of the good backup (what only the secadmin could read). */
  async function plaintextOfGood(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of (await openBackupForReading(goodFile, KEY)).plaintext()) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  it('re-encrypted to the same recipients with a new file key: refused, whatever signature it carries', async () => {
    const plain = await plaintextOfGood();
    const env = await readBackupEnvelope(goodFile);
    const attacker = newSigningKey();
    // (a) the header names the appliance as signer, the attacker signs with their own key.
    const a = join(root, `reenc-${++n}.bak`);
    const { header, chunks } = newBackupHeader([sec.publicKey], { publicRaw: signing.publicRaw }, env.info);
    const sink = SealedFileWriter.create(a, header, chunks, attacker.pkcs8);
    await sink.write(plain);
    await sink.end();
    const bytesA = await readFile(a);
    // Every chunk authenticates under the new file key: only the signature stands in the way.
    expect((await readBackupEnvelope(a)).recipients).toEqual(env.recipients);
    expect((await expectRefused(bytesA, 'BACKUP_BAD_SIGNATURE')).zh).toMatch(/重新加密/);
    // (b) the same, with the good backup's own signature copied over.
    const b = Buffer.concat([bytesA.subarray(0, bytesA.length - 64), good.subarray(good.length - 64)]);
    await expectRefused(b, 'BACKUP_BAD_SIGNATURE');
    expect((await failure(verifyBackupStructure([await write(b)], KEY.trustedSigners))).code).toBe('BACKUP_BAD_SIGNATURE');
  });

  it('re-signed with another signing key (named in its header): refused as an untrusted signer', async () => {
    const plain = await plaintextOfGood();
    const attacker = newSigningKey();
    const f = join(root, `resigned-${++n}.bak`);
    const env = await readBackupEnvelope(goodFile);
    const { header, chunks } = newBackupHeader([sec.publicKey], attacker, env.info);
    const sink = SealedFileWriter.create(f, header, chunks, attacker.pkcs8);
    await sink.write(plain);
    await sink.end();
    const v = await expectRefused(await readFile(f), 'BACKUP_SIGNER_UNTRUSTED');
    expect(v.zh).toMatch(/未受信任/);
    expect((await failure(verifyBackupStructure([f], KEY.trustedSigners))).code).toBe('BACKUP_SIGNER_UNTRUSTED');
  });

  it('a tar entry named ../../../etc/x is refused and nothing lands outside the target', async () => {
    const file = join(root, 'traversal.bak');
    await craft(file, [
      { path: 'backup.json', data: Buffer.from('{}') },
      { path: '../../../etc/x', data: Buffer.from('owned') },
    ]);
    const base = join(root, 'trav');
    await mkdir(base);
    const target = join(base, 'a', 'data');
    const e = await failure(restoreBackup([file], { dataDir: target, key: KEY, reindex: false }));
    expect(e.code).toBe('BACKUP_UNSAFE_ENTRY');
    expect(e.zh).toMatch(/\.\./);
    for (const p of [join(base, 'etc', 'x'), join(base, 'a', 'etc', 'x'), join(root, 'etc', 'x'), join(target, 'etc', 'x')]) expect(existsSync(p)).toBe(false);
    expect(existsSync(target)).toBe(false);
    expect((await failure(verifyBackup([file], KEY))).code).toBe('BACKUP_UNSAFE_ENTRY');
    // Absolute paths too.
    const abs = join(root, 'abs.bak');
    await craft(abs, [{ path: join(base, 'abs-owned'), data: Buffer.from('x') }]);
    expect((await failure(restoreBackup([abs], { dataDir: target, key: KEY, reindex: false }))).code).toBe('BACKUP_UNSAFE_ENTRY');
    expect(existsSync(join(base, 'abs-owned'))).toBe(false);
  });

  it('a symlink out of the target (and a file written through it) is refused', async () => {
    const outside = join(root, 'outside');
    await mkdir(outside);
    const file = join(root, 'symlink.bak');
    await craft(file, [
      { path: 'backup.json', data: Buffer.from('{}') },
      { path: 'config/escape', type: 'SymbolicLink', linkpath: outside },
      { path: 'config/escape/pwned', data: Buffer.from('owned') },
    ]);
    const target = join(root, 'sym', 'data');
    const e = await failure(restoreBackup([file], { dataDir: target, key: KEY, reindex: false }));
    expect(e.code).toBe('BACKUP_UNSAFE_ENTRY');
    expect(e.zh).toMatch(/链接/);
    expect(await readdir(outside)).toEqual([]);
    expect(existsSync(target)).toBe(false);
    const hard = join(root, 'hardlink.bak');
    await craft(hard, [{ path: 'config/passwd', type: 'Link', linkpath: '/etc/passwd' }]);
    expect((await failure(restoreBackup([hard], { dataDir: target, key: KEY, reindex: false }))).code).toBe('BACKUP_UNSAFE_ENTRY');
  });

  it('refuses a non-empty target and changes nothing there', async () => {
    const target = join(root, 'occupied');
    await mkdir(target);
    await writeFile(join(target, 'keep.txt'), 'mine');
    expect((await failure(restoreBackup([goodFile], { dataDir: target, key: KEY, reindex: false }))).code).toBe('RESTORE_TARGET_NOT_EMPTY');
    expect(await readdir(target)).toEqual(['keep.txt']);
  });

  async function write(b: Buffer): Promise<string> {
    const f = join(root, `h-${++n}.bak`);
    await writeFile(f, b);
    return f;
  }
});
