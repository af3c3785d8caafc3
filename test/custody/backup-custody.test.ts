import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { copyFile, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../core/config.ts';
import { healthReport } from '../../core/health.ts';
import { createLogger } from '../../core/log.ts';
import { ItemStore, listTree } from '../../ingest/index.ts';
import { argon2Hasher, openSecurity } from '../../security/index.ts';
import { fingerprint, recipientRaw, openIdentity, type BackupIdentity } from '../../custody/backup-keys.ts';
import { createAuth } from '../../web/auth.ts';
import { restoreBackup } from '../../custody/backup-restore.ts';
import { verifyBackup } from '../../custody/backup-verify.ts';
import { openBackupFile } from '../../custody/backup-crypto.ts';
import { createWebApp } from '../../web/index.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { Client, GOOD_PASSWORD } from '../security/support.ts';
import { PASSPHRASE, failure, makeItem, makeSecadmin, newSigningKey, sealPlaintext, treeHashes, type Secadmin } from './backup-support.ts';

// 三员 custody of backups, tried as the 系统管理员 would: they make a backup through the web route,
// hold the data dir (with the appliance's signing key) and every public key, and still cannot open
// it; the 安全保密管理员's key file restores it exactly, and an independent Python decoder agrees.

const DECODER = join(import.meta.dirname, '..', '..', 'tools', 'backup-decode.py');
let dir: string;
let media: string;
let secMedia: string;
let cfg: Config;
let server: Server;
let base: string;
let sec: Secadmin;
let webBackup: string;

async function as(username: string): Promise<Client> {
  const c = new Client(base);
  expect((await c.login(username)).status).toBe(200);
  return c;
}
const sysadmin = () => as('sys1');

async function waitTask(c: Client, id: number): Promise<Record<string, any>> {
  for (let i = 0; i < 600; i++) {
    const t = (await c.get('/api/admin/backups/task')).body.task;
    if (t?.id === id && t.state !== 'running') return t;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('backup task did not finish');
}

const auditLines = async () =>
  (await readFile(join(dir, 'audit', `audit-${new Date().getFullYear()}.jsonl`), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

/** An X25519 identity from any 32 bytes (what an attacker would try as a private key). */
function identityFrom(raw: Buffer): BackupIdentity {
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), raw]), format: 'der', type: 'pkcs8' });
  const publicRaw = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x as string, 'base64url');
  return { privateKey, publicRaw, publicKey: `ARCHBK1-X25519-${publicRaw.toString('base64url')}` };
}

/** Every 32-byte value the data dir holds: raw windows of small files, and hex / base64 tokens decoded. */
async function candidatesFrom(root: string): Promise<Buffer[]> {
  const out = new Map<string, Buffer>();
  const add = (b: Buffer) => {
    if (b.length === 32) out.set(b.toString('hex'), b);
  };
  for (const f of (await listTree(root)).files) {
    // A temp file of an atomic write (sessions, audit) may be gone by now.
    const bytes = await readFile(join(root, f)).catch(() => undefined);
    if (!bytes) continue;
    if (bytes.length <= 64 * 1024) for (let i = 0; i + 32 <= bytes.length; i += 1) add(bytes.subarray(i, i + 32));
    const text = bytes.toString('latin1');
    for (const m of text.match(/[0-9a-fA-F]{64}/g) ?? []) add(Buffer.from(m, 'hex'));
    for (const token of text.match(/[A-Za-z0-9+/_-]{43,}={0,2}/g) ?? []) {
      // "ARCHBK1-X25519-…": every part after a dash, too.
      for (const m of [token, ...token.split('-').map((_, i, a) => a.slice(i).join('-'))]) {
        for (const enc of ['base64', 'base64url'] as const) {
          const b = Buffer.from(m, enc);
          for (let i = 0; i + 32 <= b.length; i++) add(b.subarray(i, i + 32));
        }
      }
    }
  }
  return [...out.values()];
}

function decoder(args: string[]): { code: number | null; out: Record<string, unknown>; stderr: string } {
  const r = spawnSync('/usr/bin/python3', [DECODER, ...args], { encoding: 'utf8' });
  let out: Record<string, unknown> = {};
  try {
    out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  } catch {
    /* reported by the assertion on code */
  }
  return { code: r.status, out, stderr: r.stderr };
}

beforeAll(async () => {
  dir = await tempDir('archive-custody-');
  media = await tempDir('archive-custody-media-');
  secMedia = await tempDir('archive-custody-secadmin-');
  await mkdir(join(media, 'usb'));
  cfg = loadConfig({ overrides: { dataDir: dir, clamd: 'unix:/nonexistent/clamd.sock', backupDirs: [media] } });
  const store = await ItemStore.open(dir);
  for (let i = 1; i <= 3; i++) await makeItem(store, dir, { itemNo: i, pages: 2, originalBytes: 90_000 });
  const security = await openSecurity(cfg);
  const log = createLogger({ level: 'silent' });
  const auth = await createAuth({ configDir: security.configDir, identity: security.identity, audit: security.audit, log });
  const passwordHash = await argon2Hasher.hash(GOOD_PASSWORD);
  await security.identity.createUser({ username: 'sys1', roles: ['sysadmin'], passwordHash, mustChangePassword: false });
  await security.identity.createUser({ username: 'sec1', roles: ['secadmin'], passwordHash, mustChangePassword: false });
  const app = createWebApp({ log, auth, health: () => healthReport({}), config: cfg });
  server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  sec = await makeSecadmin(secMedia);
});

afterAll(async () => {
  await new Promise<void>((r) => {
    server?.close(() => r());
    server?.closeAllConnections();
  });
  for (const d of [dir, media, secMedia]) await cleanup(d);
});

describe('backups the 系统管理员 can make but not open', () => {
  it('the web route takes no key, and refuses while no recipient is registered', async () => {
    const sys = await sysadmin();
    const none = await sys.req('POST', '/api/admin/backups', { out: join(media, 'usb', 'early.bak') });
    expect(none.status).toBe(409);
    expect(none.body.error).toMatchObject({ code: 'BACKUP_NO_RECIPIENTS', message: expect.stringContaining('尚未登记备份接收公钥') });
    // The old body with a key file is no longer a valid request.
    const keyed = await sys.req('POST', '/api/admin/backups', { out: join(media, 'usb', 'early.bak'), keyFile: join(media, 'usb', 'k') });
    expect(keyed.status).toBe(400);
    expect(existsSync(join(media, 'usb', 'early.bak'))).toBe(false);
  });

  it('only the secadmin registers a recipient: the sysadmin cannot slip in a key of their own', async () => {
    const sys = await sysadmin();
    const own = await makeSecadmin(secMedia, 'sysadmins-own');
    const tried = await sys.req('POST', '/api/security/backup-recipients', { publicKey: own.publicKey });
    expect(tried.status).toBe(403);
    expect((await sys.get('/api/security/backup-recipients')).status).toBe(403);
    expect((await sys.get('/api/admin/backups/keys')).body.recipients).toEqual([]);
    const secadmin = await as('sec1');
    const bad = await secadmin.req('POST', '/api/security/backup-recipients', { publicKey: 'ARCHBK1-X25519-not-a-key' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BACKUP_BAD_PUBLIC_KEY');
    // A private identity file's content is not a public key either.
    expect((await secadmin.req('POST', '/api/security/backup-recipients', { publicKey: (await readFile(sec.identityPath, 'utf8')).slice(0, 200) })).status).toBe(400);
    const ok = await secadmin.req('POST', '/api/security/backup-recipients', { publicKey: sec.publicKey });
    expect(ok.status).toBe(201);
    expect(ok.body.recipient).toMatchObject({ fingerprint: fingerprint(recipientRaw(sec.publicKey)), addedBy: 'sec1' });
    expect((await secadmin.req('POST', '/api/security/backup-recipients', { publicKey: sec.publicKey })).status).toBe(409);
    const rec = (await auditLines()).filter((l) => l.action === 'backup.recipient.add');
    expect(rec).toHaveLength(1);
    expect(rec[0]).toMatchObject({ actor: 'sec1', outcome: 'success', details: { publicKey: sec.publicKey } });
    expect(String(rec[0].role)).toMatch(/安全保密管理员|secadmin/);
  });

  it("the sysadmin's backup goes to the registered recipient, signed", async () => {
    const sys = await sysadmin();
    const keys = await sys.get('/api/admin/backups/keys');
    expect(keys.body.recipients).toHaveLength(1);
    webBackup = join(media, 'usb', 'web.bak');
    const started = await sys.req('POST', '/api/admin/backups', { out: webBackup });
    expect(started.status).toBe(202);
    const done = await waitTask(sys, started.body.task.id);
    expect(done).toMatchObject({ state: 'done', result: { kind: 'full', items: 3 } });
    // The auditor sees who made it and for whom it was encrypted.
    expect((await auditLines()).filter((l) => l.action === 'backup.create').at(-1)).toMatchObject({
      actor: 'sys1',
      outcome: 'success',
      details: { recipients: [fingerprint(recipientRaw(sec.publicKey))] },
    });
    expect((await sys.get('/api/admin/backups/keys')).body.signer).toMatch(/^ARCHBK1-ED25519-/);
    // The appliance's signing key was made by this first backup, readable by its owner only.
    expect((await stat(join(dir, 'config', 'backup-signing-key.json'))).mode & 0o077).toBe(0);
    // The sysadmin's verify: structure and signature only, and it says so.
    const v = await sys.req('POST', '/api/admin/backups/verify', { files: [webBackup] });
    expect(await waitTask(sys, v.body.task.id)).toMatchObject({ state: 'done', result: { contentChecked: false, backups: [{ backupId: done.result.backupId }] } });
    const bad = join(media, 'usb', 'flipped.bak');
    const bytes = await readFile(webBackup);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await writeFile(bad, bytes);
    const vb = await sys.req('POST', '/api/admin/backups/verify', { files: [bad] });
    expect(await waitTask(sys, vb.body.task.id)).toMatchObject({ state: 'failed', error: { code: 'BACKUP_BAD_SIGNATURE' } });
  });

  it('nothing the sysadmin holds opens it: data dir, signing key, public keys', async () => {
    const file = await readFile(webBackup);
    // No plaintext of the items in the file (a page image's first bytes, a title).
    const item = (await ItemStore.open(dir)).ids()[0];
    const page = await readFile(join((await ItemStore.open(dir)).itemDir(item), 'pages', '0001.jpg'));
    expect(file.includes(page.subarray(0, 48))).toBe(false);
    expect(file.includes(Buffer.from('关于档案数字化工作的通知'))).toBe(false);
    const candidates = await candidatesFrom(dir);
    // The signing key's seed and every public key are among them.
    const signingFile = JSON.parse(await readFile(join(dir, 'config', 'backup-signing-key.json'), 'utf8')) as { privateKey: string };
    const seed = Buffer.from(signingFile.privateKey, 'base64').subarray(-32);
    expect(candidates.some((c) => c.equals(seed))).toBe(true);
    expect(candidates.some((c) => c.equals(sec.identity.publicRaw))).toBe(true);
    expect(candidates.length).toBeGreaterThan(1000);
    const trustedSigners = [JSON.parse(await readFile(join(dir, 'config', 'backup-signing-key.json'), 'utf8')).publicKey as string];
    for (const c of candidates) {
      const e = await failure(openBackupFile(webBackup, { identity: identityFrom(c), trustedSigners }));
      if (e.code !== 'BACKUP_NOT_A_RECIPIENT') throw new Error(`candidate ${c.toString('hex')} gave ${e.code}`);
    }
    // The whole way through restore too, with the likeliest guesses: nothing lands.
    for (const c of [seed, sec.identity.publicRaw]) {
      const target = join(media, `attempt-${c.toString('hex').slice(0, 8)}`);
      expect((await failure(restoreBackup([webBackup], { dataDir: target, key: { identity: identityFrom(c), trustedSigners }, reindex: false }))).code).toBe('BACKUP_NOT_A_RECIPIENT');
      expect(existsSync(target)).toBe(false);
    }
    // The secadmin's key file without its passphrase is no help either.
    expect((await failure(openIdentity(sec.identityPath, 'the sysadmin guesses this'))).code).toBe('BACKUP_BAD_PASSPHRASE');
  });

  it("the secadmin's key restores it exactly, and the Python reference decoder gives the same files", async () => {
    const signer = JSON.parse(await readFile(join(dir, 'config', 'backup-signing-key.json'), 'utf8')).publicKey as string;
    const identity = await openIdentity(sec.identityPath, PASSPHRASE);
    const target = join(secMedia, 'restored');
    const r = await restoreBackup([webBackup], { dataDir: target, key: { identity, trustedSigners: [signer] }, reindex: false });
    expect(r.items).toBe(3);
    const keepItems = (rel: string) => !rel.startsWith('.tmp') && rel !== 'index.jsonl' && rel !== '.index-dirty';
    expect([...(await treeHashes(join(target, 'items'), keepItems))]).toEqual([...(await treeHashes(join(dir, 'items'), keepItems))]);

    const decoded = join(secMedia, 'decoded');
    const d = decoder(['--identity', sec.identityPath, '--passphrase-file', sec.passPath, '--signer', signer, '--extract', decoded, webBackup]);
    expect(d.code, `${d.stderr}${JSON.stringify(d.out)}`).toBe(0);
    expect(d.out).toMatchObject({ ok: true, kind: 'full', items: 3, backupId: r.backups[0].backupId });
    // Every file the decoder wrote is the restore's, byte for byte; the restore adds only its own
    // audit records at the end of the trail and a seal of the new key after the old seals (the
    // restored trail goes on under a new verification key), and moves the trail's head past them.
    const fromDecoder = await treeHashes(decoded);
    const fromRestore = await treeHashes(target);
    expect(fromDecoder.size).toBeGreaterThan(10);
    for (const [rel, h] of fromDecoder) {
      if (rel === 'audit/head.json') continue;
      if (rel.startsWith('audit/audit-') || rel === 'audit/seals.jsonl') {
        const mine = await readFile(join(decoded, rel));
        expect((await readFile(join(target, rel))).subarray(0, mine.length).equals(mine)).toBe(true);
      } else expect({ rel, h: fromRestore.get(rel) }).toEqual({ rel, h });
    }
    // Only what the restore itself makes is not in the backup: the new verification key waiting
    // for the auditor (the restored trail goes on under a new key).
    const made = [...fromRestore.keys()].filter((rel) => (rel.startsWith('items/') || rel.startsWith('config/')) && !fromDecoder.has(rel));
    expect(made).toEqual(['config/audit-verification-key.txt']);
  });

  it('the decoder refuses what the appliance refuses: a flipped byte, a re-signed copy, a wrong passphrase', async () => {
    const signer = JSON.parse(await readFile(join(dir, 'config', 'backup-signing-key.json'), 'utf8')).publicKey as string;
    const bytes = await readFile(webBackup);
    const flipped = join(secMedia, 'flipped.bak');
    bytes[bytes.length - 200] ^= 0x01;
    await writeFile(flipped, bytes);
    const f = decoder(['--identity', sec.identityPath, '--passphrase-file', sec.passPath, '--signer', signer, flipped]);
    expect(f.code).toBe(1);
    expect(f.out.error).toMatch(/signature/);
    // Re-signed: the real plaintext (the decoder's tar) sealed again under another key.
    const tar = join(secMedia, 'plain.tar');
    expect(decoder(['--identity', sec.identityPath, '--passphrase-file', sec.passPath, '--tar', tar, webBackup]).code).toBe(0);
    const resigned = join(secMedia, 'resigned.bak');
    await sealPlaintext(resigned, await readFile(tar), [sec.publicKey], newSigningKey());
    const rs = decoder(['--identity', sec.identityPath, '--passphrase-file', sec.passPath, '--signer', signer, resigned]);
    expect(rs.code).toBe(1);
    expect(rs.out.error).toMatch(/another key/);
    // The appliance agrees about the same file.
    const identity = await openIdentity(sec.identityPath, PASSPHRASE);
    expect((await failure(verifyBackup([resigned], { identity, trustedSigners: [signer] }))).code).toBe('BACKUP_SIGNER_UNTRUSTED');
    const wrong = join(secMedia, 'wrong.pass');
    await writeFile(wrong, 'not the passphrase\n');
    await copyFile(webBackup, join(secMedia, 'copy.bak'));
    const wp = decoder(['--identity', sec.identityPath, '--passphrase-file', wrong, join(secMedia, 'copy.bak')]);
    expect(wp.code).toBe(1);
    expect(wp.out.error).toMatch(/passphrase/);
    expect(await readdir(secMedia)).not.toContain('decoded-2');
  });
});
