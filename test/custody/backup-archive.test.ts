import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Header } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_SIZE, type BackupOpenKey } from '../../custody/backup-crypto.ts';
import { restoreBackup } from '../../custody/backup-restore.ts';
import { verifyBackup } from '../../custody/backup-verify.ts';
import { type SigningKey } from '../../custody/backup-keys.ts';
import { tarHeader } from '../../custody/backup-tar.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { failure, makeSecadmin, newSigningKey, sealPlaintext, type Secadmin } from './backup-support.ts';

// Archives made by hand, sealed in the real format: every kind of header the writer can produce
// (ustar prefix, pax for long and non-ASCII names), bodies across chunk and batch boundaries, and
// the refusals verify owes for a malformed tar, links and devices: each with its own error code.

const BACKUP_ID = 'bk-20260101T000000Z-abcdef';
const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface FileEntry {
  path: string;
  data: Buffer;
}

/** A whole, valid full backup (info first, manifest last) of the given files, as tar blocks. */
function archive(files: FileEntry[], opts: { lie?: string } = {}): Buffer[] {
  const now = new Date();
  const info = Buffer.from(
    JSON.stringify({
      format: 'archive-backup',
      v: 1,
      backupId: BACKUP_ID,
      parentId: null,
      kind: 'full',
      created: now.toISOString(),
      auditHead: { seq: 0, hash: '0'.repeat(64) },
      items: {},
      included: [],
      damaged: [],
    }),
  );
  const all = [{ path: 'backup.json', data: info }, ...files];
  const blocks: Buffer[] = [];
  for (const f of all) blocks.push(tarHeader(f.path, f.data.length, now), f.data, pad(f.data.length));
  const lines = all.map((f) => JSON.stringify({ path: f.path, size: f.data.length, sha256: f.path === opts.lie ? sha(Buffer.from('something else')) : sha(f.data) }));
  lines.push(JSON.stringify({ end: true, backupId: BACKUP_ID, files: all.length, bytes: all.reduce((n, f) => n + f.data.length, 0) }));
  const manifest = Buffer.from(lines.join('\n') + '\n');
  blocks.push(tarHeader('manifest.jsonl', manifest.length, now), manifest, pad(manifest.length), Buffer.alloc(1024));
  return blocks;
}

let sec: Secadmin;
let signing: SigningKey;
let KEY: BackupOpenKey;

async function seal(out: string, blocks: Buffer[]): Promise<string> {
  await sealPlaintext(out, Buffer.concat(blocks), [sec.publicKey], signing, { backupId: BACKUP_ID, parentId: null, kind: 'full', created: new Date().toISOString() });
  return out;
}

describe('backup verify: hand-made archives', () => {
  let root: string;
  let files: FileEntry[];
  let n = 0;
  const file = () => join(root, `s-${++n}.bak`);

  beforeAll(async () => {
    root = await tempDir('backup-archive-');
    sec = await makeSecadmin(root);
    signing = newSigningKey();
    KEY = { identity: sec.identity, trustedSigners: [signing.publicKey] };
    files = [
      { path: 'config/empty.json', data: Buffer.alloc(0) },
      // > 100 characters: ustar's prefix field; > 255 and non-ASCII: a pax header before it.
      { path: `config/${'d'.repeat(60)}/${'e'.repeat(60)}/long.json`, data: randomBytes(700) },
      { path: `config/${'p'.repeat(300)}.json`, data: randomBytes(513) },
      { path: 'config/案卷/扫描件 第1页.tif', data: randomBytes(CHUNK_SIZE + 1) },
      { path: 'items/ab/manifest-sha256.txt', data: Buffer.from('not an item of ours, just kept\n') },
    ];
    // ~6 MB over many sizes: bodies start and end anywhere in a chunk, and span many batches.
    for (let i = 0; i < 40; i++) files.push({ path: `jobs/j-${i}.bin`, data: randomBytes(1000 + ((i * 97_531) % 300_000)) });
  });
  afterAll(() => cleanup(root));

  it('prefixed, pax and non-ASCII names, empty and chunk-crossing files: the archive verifies', async () => {
    const r = await verifyBackup([await seal(file(), archive(files))], KEY);
    expect(r.backups[0].files).toBe(files.length + 1);
    expect(r.backups[0].kind).toBe('full');
  });

  it('a wrong hash is found wherever the file lies (first, middle, last)', async () => {
    for (const lie of [files[1].path, files[3].path, files[20].path, files[files.length - 1].path]) {
      const e = await failure(verifyBackup([await seal(file(), archive(files, { lie }))], KEY));
      expect(e.code).toBe('BACKUP_MANIFEST_MISMATCH');
      expect(e.details?.path).toBe(lie);
    }
  });

  it('a backup file that is not there is named, for verify and restore alike', async () => {
    const gone = join(root, 'not-there.bak');
    const v = await failure(verifyBackup([gone], KEY));
    expect(v).toMatchObject({ code: 'BACKUP_NOT_FOUND', zh: expect.stringContaining(gone) });
    const r = await failure(restoreBackup([gone], { dataDir: join(root, 'restore-target'), key: KEY, reindex: false }));
    expect(r).toMatchObject({ code: 'BACKUP_NOT_FOUND', zh: expect.stringContaining(gone) });
  });

  it('a header with a bad checksum is a tar structure error', async () => {
    const blocks = archive(files.slice(0, 3));
    const h = Buffer.from(blocks[3]); // the header of files[0]
    h[0] ^= 0x01;
    blocks[3] = h;
    const e = await failure(verifyBackup([await seal(file(), blocks)], KEY));
    expect(e.code).toBe('BACKUP_MANIFEST_MISMATCH');
    expect(e.zh).toMatch(/tar 结构错误（TAR_ENTRY_INVALID）/);
  });

  it('a tar that ends inside an entry (every chunk intact) is refused', async () => {
    const blocks = archive(files.slice(0, 5));
    const whole = Buffer.concat(blocks);
    const e = await failure(verifyBackup([await seal(file(), [whole.subarray(0, 512 * 3 + 100)])], KEY));
    expect(e.code).toBe('BACKUP_MANIFEST_MISMATCH');
  });

  it('links and devices are refused by verify too, whatever follows them', async () => {
    for (const type of ['SymbolicLink', 'Link', 'FIFO'] as const) {
      const link = new Header({ path: 'config/escape', type, linkpath: type === 'FIFO' ? undefined : '/etc/passwd', size: 0, mode: 0o644, mtime: new Date() });
      link.encode();
      const blocks = archive(files.slice(0, 3));
      blocks.splice(3, 0, link.block!);
      const e = await failure(verifyBackup([await seal(file(), blocks)], KEY));
      expect(e.code).toBe('BACKUP_UNSAFE_ENTRY');
    }
  });

  it('a flipped byte far into a multi-batch archive names its chunk after everything before it checked', async () => {
    const good = await seal(file(), archive(files));
    const b = await readFile(good);
    const head = 13 + b.readUInt32BE(9) + 32;
    b[head + 40 * (CHUNK_SIZE + 16) + 5] ^= 0x04;
    const bad = file();
    await writeFile(bad, b);
    const e = await failure(verifyBackup([bad], KEY));
    expect(e.code).toBe('BACKUP_CORRUPT');
    expect(e.details?.chunk).toBe(41);
  });
});
