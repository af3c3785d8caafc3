import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, verifyAudit, type AuditRecord } from '../../security/index.ts';
import { recordHash } from '../../security/audit-record.ts';
import { SEAL_KEY_FILE, evolveKey, formatVerificationKey, keyIdOf, parseVerificationKeys, sealMac, type Seal, type SealKeyState } from '../../security/audit-seal.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { startTestApp, type TestApp } from './support.ts';

const AT_ONCE = { headDelayMs: 0, sealIntervalMs: 3_600_000 };
const entry = (i: number) => ({ actor: `u${i}`, role: 'staff', source: '127.0.0.1', action: 'item.search', target: `q-${i}`, outcome: 'success' as const, details: { n: i } });
const YEAR = `audit-${new Date().getFullYear()}.jsonl`;

/** A data dir as the appliance lays it out: <d>/audit and <d>/config. */
const auditOf = (d: string) => join(d, 'audit');

async function records(d: string): Promise<AuditRecord[]> {
  return (await readFile(join(auditOf(d), YEAR), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditRecord);
}
async function writeRecords(d: string, recs: AuditRecord[]): Promise<void> {
  await writeFile(join(auditOf(d), YEAR), recs.map((r) => `${JSON.stringify(r)}\n`).join(''));
}
async function seals(d: string): Promise<Seal[]> {
  return (await readFile(join(auditOf(d), 'seals.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Seal);
}
async function writeSeals(d: string, s: Seal[]): Promise<void> {
  await writeFile(join(auditOf(d), 'seals.jsonl'), s.map((x) => `${JSON.stringify(x)}\n`).join(''));
}
async function keyState(d: string): Promise<SealKeyState> {
  return JSON.parse(await readFile(join(auditOf(d), SEAL_KEY_FILE), 'utf8')) as SealKeyState;
}
/** What a forger does after changing records: re-hash the chain from the first record on, and write head.json to match. */
async function rehash(d: string, recs: AuditRecord[]): Promise<AuditRecord[]> {
  let prev = '0'.repeat(64);
  const out = recs.map((r) => {
    const x = { ...r, prev };
    x.hash = recordHash(x);
    prev = x.hash;
    return x;
  });
  await writeRecords(d, out);
  const last = out[out.length - 1];
  await writeFile(join(auditOf(d), 'head.json'), `${JSON.stringify({ seq: last.seq, hash: last.hash, file: YEAR, time: last.time })}\n`);
  return out;
}

describe('forward-secure sealing of the audit trail', () => {
  let root: string;
  let pristine: string;
  let k0: Buffer;
  const withKey = () => ({ keys: [k0], requireSealKey: true });

  beforeAll(async () => {
    root = await tempDir('archive-seal-');
    pristine = join(root, 'pristine');
    await mkdir(pristine);
    const log = new AuditLog(auditOf(pristine), AT_ONCE);
    // 30 records sealed every 5 (seals 0…5 over seq 5, 10, … 30), then 3 not yet sealed.
    for (let i = 1; i <= 30; i++) {
      await log.append(entry(i));
      if (i % 5 === 0) expect(await log.sealNow()).toMatchObject({ i: i / 5 - 1, seq: i });
    }
    for (let i = 31; i <= 33; i++) await log.append(entry(i));
    await log.settle();
    k0 = parseVerificationKeys(await readFile(join(pristine, 'config', 'audit-verification-key.txt'), 'utf8'))[0];
  });
  afterAll(() => cleanup(root));

  let n = 0;
  async function copy(): Promise<string> {
    const d = join(root, `case-${n++}`);
    await cp(pristine, d, { recursive: true });
    return d;
  }

  it('keeps only the evolved key, 0600, and gives the auditor k0 once in config/ (0600)', async () => {
    const vk = join(pristine, 'config', 'audit-verification-key.txt');
    expect((await stat(vk)).mode & 0o777).toBe(0o600);
    expect((await stat(join(auditOf(pristine), SEAL_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect(await readFile(vk, 'utf8')).toContain(formatVerificationKey(k0));
    // settle() sealed the last three: seals 0…6, and the key file is k_7, not k0.
    const s = await seals(pristine);
    expect(s.map((x) => [x.i, x.seq])).toEqual([
      [0, 5],
      [1, 10],
      [2, 15],
      [3, 20],
      [4, 25],
      [5, 30],
      [6, 33],
    ]);
    const st = await keyState(pristine);
    let k = k0;
    for (let i = 0; i < 7; i++) k = evolveKey(k);
    expect(st).toMatchObject({ i: 7, key: keyIdOf(k0), k: k.toString('hex') });
    expect(st.k).not.toBe(k0.toString('hex'));
  });

  it('without the key, verify checks the chain and says plainly that the seals were not checked', async () => {
    const v = await verifyAudit(auditOf(pristine));
    expect(v).toMatchObject({ ok: true, records: 33, seals: { status: 'unchecked', seals: 7 } });
    expect(v.seals!.zh).toContain('未核验封印');
    const w = await verifyAudit(auditOf(pristine), withKey());
    expect(w).toMatchObject({ ok: true, records: 33, seals: { status: 'verified', seals: 7, unsealed: 0, lastSeal: { i: 6, seq: 33 } } });
    expect(w.seals!.zh).toContain('封印全部核验通过');
  });

  it('(a) records cut from the end and head.json rewritten: caught, also when the forger turns the key file back', async () => {
    const d = await copy();
    const recs = (await records(d)).slice(0, 17);
    await writeRecords(d, recs);
    await writeFile(join(auditOf(d), 'head.json'), `${JSON.stringify({ seq: 17, hash: recs[16].hash, file: YEAR, time: recs[16].time })}\n`);
    // Only the head rewritten: the seals past the end show it, key or not.
    expect((await verifyAudit(auditOf(d))).firstBroken).toMatchObject({ kind: 'seal-beyond-end', file: 'seals.jsonl' });
    // The seals past the end cut too: the key file's epoch shows that seals are missing.
    await writeSeals(
      d,
      (await seals(d)).filter((s) => s.seq <= 17),
    );
    expect((await verifyAudit(auditOf(d), withKey())).firstBroken).toMatchObject({ kind: 'seals-truncated' });
    // And the key file set back to epoch 3 (with the only key the forger has): passes the chain,
    // the verification key proves the file is not k_3.
    const st = await keyState(d);
    await writeFile(join(auditOf(d), SEAL_KEY_FILE), JSON.stringify({ ...st, i: 3 }));
    const noKey = await verifyAudit(auditOf(d));
    expect(noKey).toMatchObject({ ok: true, seals: { status: 'unchecked' } });
    const v = await verifyAudit(auditOf(d), withKey());
    expect(v.ok).toBe(false);
    expect(v.firstBroken).toMatchObject({ kind: 'seal-key-forged' });
    expect(v.seals!.zh).toContain('封印核验失败');
    // Or the key file deleted: the live trail must have one.
    await rm(join(auditOf(d), SEAL_KEY_FILE));
    expect((await verifyAudit(auditOf(d), withKey())).firstBroken).toMatchObject({ kind: 'seal-key-missing' });
  });

  it('(b) records cut and head.json deleted: the next append refuses instead of rebuilding it, verify fails', async () => {
    const d = await copy();
    await writeRecords(d, (await records(d)).slice(0, 12));
    await writeSeals(
      d,
      (await seals(d)).filter((s) => s.seq <= 12),
    );
    await rm(join(auditOf(d), 'head.json'));
    await expect(new AuditLog(auditOf(d), AT_ONCE).append(entry(99))).rejects.toMatchObject({ code: 'AUDIT_HEAD_MISSING' });
    expect(await stat(join(auditOf(d), 'head.json')).catch(() => undefined)).toBeUndefined();
    expect(await records(d)).toHaveLength(12);
    expect((await verifyAudit(auditOf(d))).firstBroken).toMatchObject({ kind: 'head-missing' });
    expect((await verifyAudit(auditOf(d), withKey())).ok).toBe(false);
  });

  it('(c) a record edited and the hashes re-computed forward: caught by the seals, and the forged MACs by the key', async () => {
    const d = await copy();
    const recs = await records(d);
    recs[6] = { ...recs[6], target: 'forged' };
    const forged = await rehash(d, recs);
    // The chain holds; seal 1 (over record 10) does not.
    const v = await verifyAudit(auditOf(d));
    expect(v.firstBroken).toMatchObject({ kind: 'seal-mismatch', seq: 10 });
    // The forger also re-makes every seal with the one key there is, the current one.
    const st = await keyState(d);
    const kNow = Buffer.from(st.k, 'hex');
    await writeSeals(
      d,
      (await seals(d)).map((s) => {
        const base = { ...s, hash: forged[s.seq - 1].hash };
        return { ...base, mac: sealMac(kNow, base) };
      }),
    );
    expect(await verifyAudit(auditOf(d))).toMatchObject({ ok: true, seals: { status: 'unchecked' } });
    const w = await verifyAudit(auditOf(d), withKey());
    expect(w.ok).toBe(false);
    expect(w.firstBroken).toMatchObject({ kind: 'seal-forged', seq: 5, line: 1 });
  });

  it('holding the current sealing key, no valid seal for an earlier record can be made', async () => {
    const d = await copy();
    const recs = await records(d);
    recs[11] = { ...recs[11], outcome: 'failure' };
    const forged = await rehash(d, recs);
    const st = await keyState(d);
    const old = await seals(d);
    // Keep seals 0 and 1 (records 5, 10: untouched), re-seal the rest with the keys the forger
    // can compute: k_7, k_8, … under their true epochs — an index gap where 2…6 were.
    let k: Buffer = Buffer.from(st.k, 'hex');
    const resealed = old.slice(2).map((s, j) => {
      const base = { ...s, i: st.i + j, hash: forged[s.seq - 1].hash };
      const seal = { ...base, mac: sealMac(k, base) };
      k = evolveKey(k);
      return seal;
    });
    await writeSeals(d, [...old.slice(0, 2), ...resealed]);
    expect((await verifyAudit(auditOf(d), withKey())).firstBroken).toMatchObject({ kind: 'seal-order' });
    // The same seals numbered 2, 3, … as the originals: the MAC with k_7 is not k_2's.
    k = Buffer.from(st.k, 'hex');
    await writeSeals(d, [
      ...old.slice(0, 2),
      ...old.slice(2).map((s) => {
        const base = { ...s, hash: forged[s.seq - 1].hash };
        const seal = { ...base, mac: sealMac(k, base) };
        k = evolveKey(k);
        return seal;
      }),
    ]);
    expect((await verifyAudit(auditOf(d), withKey())).firstBroken).toMatchObject({ kind: 'seal-forged', seq: 15 });
    // A whole new key of the forger's own, every seal re-made from epoch 0: not the auditor's key.
    const { randomBytes } = await import('node:crypto');
    const mine = randomBytes(32);
    let mk: Buffer = mine;
    await writeSeals(
      d,
      old.map((s) => {
        const base = { ...s, key: keyIdOf(mine), hash: forged[s.seq - 1].hash };
        const seal = { ...base, mac: sealMac(mk, base) };
        mk = evolveKey(mk);
        return seal;
      }),
    );
    await writeFile(join(auditOf(d), SEAL_KEY_FILE), JSON.stringify({ v: 1, key: keyIdOf(mine), i: old.length, k: mk.toString('hex') }));
    expect(await verifyAudit(auditOf(d))).toMatchObject({ ok: true });
    expect((await verifyAudit(auditOf(d), withKey())).firstBroken).toMatchObject({ kind: 'seal-key-unknown' });
  });

  it('a fresh appliance whose head was deleted fails verify and refuses to go on', async () => {
    const d = join(root, 'fresh');
    await mkdir(d);
    const log = new AuditLog(auditOf(d), AT_ONCE);
    await log.append(entry(1));
    await log.append(entry(2));
    await log.head(); // the head write that follows an append is done (it takes the lock)
    const fk = parseVerificationKeys(await readFile(join(d, 'config', 'audit-verification-key.txt'), 'utf8'))[0];
    expect(keyIdOf(fk)).not.toBe(keyIdOf(k0));
    await rm(join(auditOf(d), 'head.json'));
    expect((await verifyAudit(auditOf(d))).firstBroken).toMatchObject({ kind: 'head-missing' });
    expect((await verifyAudit(auditOf(d), { keys: [fk], requireSealKey: true })).ok).toBe(false);
    await expect(log.append(entry(3))).rejects.toMatchObject({ code: 'AUDIT_HEAD_MISSING' });
    // Once sealed, everything removed but the sealing key: not a new trail either.
    await rm(join(auditOf(d), YEAR));
    await writeFile(join(auditOf(d), 'head.json'), JSON.stringify({ seq: 0, hash: '0'.repeat(64), file: '', time: new Date().toISOString() }));
    await new AuditLog(auditOf(d), AT_ONCE).append(entry(3));
    await new AuditLog(auditOf(d), AT_ONCE).sealNow();
    await rm(join(auditOf(d), 'head.json'));
    await rm(join(auditOf(d), 'seals.jsonl'));
    await rm(join(auditOf(d), YEAR));
    await expect(new AuditLog(auditOf(d), AT_ONCE).append(entry(4))).rejects.toMatchObject({ code: 'AUDIT_HEAD_MISSING' });
    expect((await verifyAudit(auditOf(d))).ok).toBe(false);
  });

  it('a crash between a seal and the key evolution: the next seal evolves first and all verify', async () => {
    const d = await copy();
    const log = new AuditLog(auditOf(d), AT_ONCE);
    await log.append(entry(34));
    const before = await readFile(join(auditOf(d), SEAL_KEY_FILE));
    await log.sealNow();
    await writeFile(join(auditOf(d), SEAL_KEY_FILE), before); // as if the rename never happened
    await log.append(entry(35));
    expect(await log.sealNow()).toMatchObject({ i: 8, seq: 35 });
    expect(await verifyAudit(auditOf(d), withKey())).toMatchObject({ ok: true, seals: { status: 'verified', seals: 9 } });
  });

  it('seals on a timer and after N records, not per append', async () => {
    const d = join(root, 'timer');
    await mkdir(d);
    const log = new AuditLog(auditOf(d), { headDelayMs: 0, sealIntervalMs: 100, sealEveryRecords: 1_000_000 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => log.append(entry(i + 1))));
    const until = Date.now() + 10_000;
    while ((await seals(d)).at(-1)?.seq !== 40 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const made = await seals(d);
    expect(made.at(-1)?.seq).toBe(40);
    expect(made.length).toBeLessThan(5); // one per interval, not one per record
    const e = join(root, 'count');
    await mkdir(e);
    const byCount = new AuditLog(auditOf(e), { headDelayMs: 0, sealIntervalMs: 3_600_000, sealEveryRecords: 10 });
    for (let i = 1; i <= 25; i++) await byCount.append(entry(i));
    const s = await seals(e);
    expect(s.length).toBeGreaterThanOrEqual(2);
    expect(s.every((x, j) => x.i === j)).toBe(true);
    const ek = parseVerificationKeys(await readFile(join(e, 'config', 'audit-verification-key.txt'), 'utf8'));
    expect(await verifyAudit(auditOf(e), { keys: ek, requireSealKey: true })).toMatchObject({ ok: true, records: 25, seals: { status: 'verified' } });
  });

  it('a backup never carries the sealing key or the waiting verification key', async () => {
    const { collectSources } = await import('../../custody/backup-source.ts');
    const d = await copy();
    await writeFile(join(d, 'config', 'users.json'), '{}');
    const paths = (await collectSources(d)).sources.map((x) => x.path);
    expect(paths).toContain('audit/seals.jsonl');
    expect(paths).toContain('audit/head.json');
    expect(paths).toContain('config/users.json');
    expect(paths.filter((p) => /seal-key|verification-key/.test(p))).toEqual([]);
  });

  it('`archive audit verify --verification-key` proves the seals; without it says they were not checked; `resume` on record', async () => {
    const { spawnSync } = await import('node:child_process');
    const { CLI } = await import('../support/appliance.ts');
    const d = await copy();
    const keyFile = join(root, 'vk-cli.txt');
    await writeFile(keyFile, await readFile(join(pristine, 'config', 'audit-verification-key.txt')));
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ARCHIVE_DATA_DIR: d }, encoding: 'utf8' });
    const plain = cli('audit', 'verify');
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('审计链完整');
    expect(plain.stdout).toContain('未核验封印');
    const sealed = cli('audit', 'verify', '--verification-key', keyFile);
    expect(sealed.status, sealed.stderr).toBe(0);
    expect(sealed.stdout).toContain('封印全部核验通过');
    // A forger's edit with re-made hashes and seals (attack c): only the key shows it.
    const recs = await records(d);
    recs[2] = { ...recs[2], actor: 'nobody' };
    const forged = await rehash(d, recs);
    const kNow = Buffer.from((await keyState(d)).k, 'hex');
    await writeSeals(
      d,
      (await seals(d))
        .filter((x) => x.seq <= forged.length)
        .map((x) => {
          const base = { ...x, hash: forged[x.seq - 1].hash };
          return { ...base, mac: sealMac(kNow, base) };
        }),
    );
    expect(cli('audit', 'verify').status).toBe(0);
    const caught = cli('audit', 'verify', '--verification-key', keyFile);
    expect(caught.status).toBe(1);
    expect(caught.stderr).toContain('封印被伪造或改动');
    // The sealing key lost: appends refuse, `resume` starts a new key on record.
    const e = await copy();
    await rm(join(auditOf(e), SEAL_KEY_FILE));
    await rm(join(e, 'config', 'audit-verification-key.txt'));
    const cliE = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ARCHIVE_DATA_DIR: e }, encoding: 'utf8' });
    const refused = cliE('audit', 'verify', '--verification-key', keyFile);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('封印密钥文件缺失');
    const resumed = cliE('audit', 'resume');
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('审计链已续接');
    const fresh = await readFile(join(e, 'config', 'audit-verification-key.txt'), 'utf8');
    await writeFile(join(root, 'vk-both.txt'), `${await readFile(keyFile, 'utf8')}\n${fresh}`);
    const both = cliE('--json', 'audit', 'verify', '--verification-key', join(root, 'vk-both.txt'));
    expect(both.status, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout)).toMatchObject({ ok: true, seals: { status: 'verified' } });
  });

  it('resume after a lost sealing key starts a new key segment, recorded; verify tells which seals the old key proves', async () => {
    const d = await copy();
    await rm(join(auditOf(d), SEAL_KEY_FILE));
    const log = new AuditLog(auditOf(d), AT_ONCE);
    await expect(log.append(entry(40))).rejects.toMatchObject({ code: 'AUDIT_SEAL_KEY_MISSING' });
    const rec = await log.resume({ actor: 'console', role: 'console', source: 'console:test', action: 'audit.resume', target: 'audit', outcome: 'success' });
    const k1 = parseVerificationKeys(await readFile(join(d, 'config', 'audit-verification-key.txt'), 'utf8'))[0];
    expect(rec.details).toMatchObject({ headRebuilt: false, previousKey: null, newKey: keyIdOf(k1), lastSeal: { i: 6, seq: 33 } });
    await log.append(entry(41));
    await log.settle();
    const partial = await verifyAudit(auditOf(d), withKey());
    expect(partial).toMatchObject({ ok: true, seals: { status: 'partial' } });
    expect(partial.seals!.zh).toContain(keyIdOf(k1));
    expect(await verifyAudit(auditOf(d), { keys: [k0, k1], requireSealKey: true })).toMatchObject({ ok: true, records: 35, seals: { status: 'verified' } });
    await expect(log.resume({ actor: 'console', role: 'console', source: 'console:test', action: 'audit.resume', target: 'audit', outcome: 'success' })).rejects.toMatchObject({
      code: 'AUDIT_RESUME_NOT_NEEDED',
    });
  });
});

describe("the auditor's verification key and seal check on the web", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.addUser('aud', ['auditor']);
    await t.addUser('sys', ['sysadmin']);
    await t.addUser('sec', ['secadmin']);
    await t.addUser('reader', ['staff']);
  });
  afterAll(() => t.close());

  it('only the auditor may read the key, confirm taking it, or verify the seals with it', async () => {
    for (const who of ['sys', 'sec', 'reader']) {
      const c = t.client();
      expect((await c.login(who)).status).toBe(200);
      expect((await c.get('/api/admin/audit/seal/key')).status).toBe(403);
      expect((await c.get('/api/admin/audit/seal/key.svg')).status).toBe(403);
      expect((await c.req('POST', '/api/admin/audit/seal/key/taken', { keyId: '0123456789abcdef' })).status).toBe(403);
      expect((await c.req('POST', '/api/admin/audit/seal/verify', { key: 'x' })).status).toBe(403);
    }
    expect((await t.client().get('/api/admin/audit/seal/key')).status).toBe(401);
    // Nothing was erased by them.
    expect(await stat(join(t.dir, 'config', 'audit-verification-key.txt')).then(() => true)).toBe(true);
  });

  it('the auditor sees the key as text and QR code, verifies the seals with it pasted, and erases it by confirming', async () => {
    const c = t.client();
    expect((await c.login('aud')).status).toBe(200);
    const k = await c.get('/api/admin/audit/seal/key');
    expect(k.status).toBe(200);
    expect(k.body).toMatchObject({ pending: true });
    expect(k.body.key).toMatch(/^ARCHIVE-AUDIT-VK1-[0-9a-f]{64}-[0-9a-f]{8}$/);
    expect(k.headers.get('cache-control')).toBe('no-store');
    const qr = await c.get('/api/admin/audit/seal/key.svg');
    expect(qr.status).toBe(200);
    expect(qr.headers.get('content-type')).toContain('image/svg+xml');
    expect(String(qr.body)).toContain('<svg');
    await t.sec.audit.sealNow();
    // Pasted with line breaks and spaces, as copied from a print-out.
    const pasted = `${k.body.key.slice(0, 40)}\n ${k.body.key.slice(40)}`;
    const ok = await c.req('POST', '/api/admin/audit/seal/verify', { key: pasted });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, seals: { status: 'verified' } });
    expect(ok.body.seals.zh).toContain('封印全部核验通过');
    const other = formatVerificationKey(Buffer.alloc(32, 7));
    const wrong = await c.req('POST', '/api/admin/audit/seal/verify', { key: other });
    expect(wrong.body).toMatchObject({ ok: false, firstBroken: { kind: 'seal-key-unknown' } });
    const typo = await c.req('POST', '/api/admin/audit/seal/verify', { key: k.body.key.replace(/-([0-9a-f])/, (_m: string, d: string) => `-${d === '0' ? '1' : '0'}`) });
    expect(typo).toMatchObject({ status: 400, body: { error: { code: 'AUDIT_VKEY_CHECKSUM' } } });
    expect((await c.req('POST', '/api/admin/audit/seal/verify', { key: k.body.key }, { csrf: false })).status).toBe(403);
    expect((await c.req('POST', '/api/admin/audit/seal/key/taken', { keyId: k.body.keyId }, { csrf: false })).status).toBe(403);
    expect((await c.req('POST', '/api/admin/audit/seal/key/taken', { keyId: '0123456789abcdef' })).status).toBe(409);
    const taken = await c.req('POST', '/api/admin/audit/seal/key/taken', { keyId: k.body.keyId });
    expect(taken).toMatchObject({ status: 200, body: { ok: true, keyId: k.body.keyId } });
    expect(await stat(join(t.dir, 'config', 'audit-verification-key.txt')).catch(() => undefined)).toBeUndefined();
    expect((await c.get('/api/admin/audit/seal/key')).body).toEqual({ pending: false });
    expect((await c.get('/api/admin/audit/seal/key.svg')).status).toBe(404);
    const recs = await t.auditTail(40);
    expect(recs.filter((r) => r.action === 'audit.seal.key.view' && r.actor === 'aud').length).toBe(2);
    expect(recs.find((r) => r.action === 'audit.seal.key.taken' && r.outcome === 'success')).toMatchObject({ actor: 'aud', target: k.body.keyId });
    expect(recs.filter((r) => r.action === 'audit.verify' && r.actor === 'aud').map((r) => r.outcome)).toEqual(['success', 'failure', 'failure']);
  });
});
