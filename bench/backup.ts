// Backup throughput against `tar -c | openssl enc -aes-256-ctr -pbkdf2` over the same data in the
// same run, and the integrity check's hashing against `sha256sum` over the same item files.
// Usage: npx tsx bench/backup.ts [MB]   (default 500; ARCHIVE_BENCH_ROUNDS=5; ARCHIVE_BENCH_KEEP=1 keeps the temp dir)
import { execSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.ts';
import { ItemStore } from '../ingest/index.ts';
import { addRecipient, generateIdentity, loadOrCreateSigningKey, openIdentity } from '../custody/backup-keys.ts';
import { createBackup } from '../custody/backup.ts';
import { fillStore } from './backup-corpus.ts';
import { runIntegrityCheck } from '../custody/integrity.ts';
import { verifyBackup } from '../custody/backup-verify.ts';
import { verifyBackupStructure } from '../custody/backup-structure.ts';
import { openBackupFile } from '../custody/backup-crypto.ts';

const targetMb = Number(process.argv[2] ?? 500);
const root = await mkdtemp(join(tmpdir(), 'bench-backup-'));
const cfg = loadConfig({ overrides: { dataDir: join(root, 'data'), clamd: 'unix:/nonexistent/clamd.sock' } });
const store = await ItemStore.open(cfg.dataDir);

const n = await fillStore(store, root, targetMb);
const bytes = Number(
  execSync(`du -sb --apparent-size ${join(cfg.dataDir, 'items')}`)
    .toString()
    .split('\t')[0],
);
const mb = bytes / 1e6;
// Warm the page cache once so neither side pays for the first read.
execSync(`cat $(find ${cfg.dataDir}/items -type f) > /dev/null`, { shell: '/bin/bash', maxBuffer: 1 << 26 });

const time = async (fn: () => Promise<unknown> | unknown) => {
  // Nothing left to write back from the step before: each side pays only for its own writes.
  execSync('sync');
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};
// The secadmin's recipient key (scrypt-sealed identity file at the real cost), registered here.
const passphrase = 'bench passphrase 2026';
const gen = await generateIdentity(passphrase);
await writeFile(join(root, 'secadmin.key'), gen.identityFile, { mode: 0o600 });
await addRecipient(cfg.dataDir, gen.publicKey, { actor: { actor: 'bench', role: '安全保密管理员', source: 'bench' } });
const signer = (await loadOrCreateSigningKey(cfg.dataDir)).publicKey;
// Opening the identity (scrypt) is part of every verify and restore, as argon2 was before.
const openKey = async () => ({ identity: await openIdentity(join(root, 'secadmin.key'), passphrase), trustedSigners: [signer] });
const sh = (cmd: string) => execSync(cmd, { shell: '/bin/bash', stdio: ['ignore', 'ignore', 'inherit'] });

const ROUNDS = Number(process.env.ARCHIVE_BENCH_ROUNDS ?? 5);
const OPS = {
  create: 'tar -c | openssl enc -aes-256-ctr -pbkdf2',
  'create, baseline synced': 'tar -c | openssl enc -aes-256-ctr -pbkdf2 && sync FILE',
  verify: 'openssl enc -d | tar -t',
  'verify, past its key derivation': 'openssl enc -d | tar -t (its pbkdf2 takes ms)',
  // Verify hashes every byte against the manifest (as a restore would); tar -t does not.
  'verify, baseline also hashing': 'openssl enc -d | tar -xO | openssl dgst -sha256',
  'verify, structure and signature only (no key)': 'sha256sum FILE',
  'archive verify (hash+pdf+checks)': 'find | xargs sha256sum',
} as const;
const rounds = Object.fromEntries(Object.keys(OPS).map((k) => [k, []])) as unknown as Record<keyof typeof OPS, Array<[number, number]>>;
// scrypt (64 MiB) opens the identity, then X25519 unwraps the file key: a fixed cost per verify, not per byte.
const kdf: number[] = [];
const tarEnc = `tar -cf - -C ${cfg.dataDir} config items audit jobs | openssl enc -aes-256-ctr -pbkdf2 -pass pass:bench -out ${root}/base.enc`;
for (let round = 1; round <= ROUNDS; round++) {
  const out = join(root, `b${round}.bak`);
  // Alternate which side goes first, so drift on the shared machine hits both.
  const pair = async (a: () => Promise<unknown> | unknown, b: () => Promise<unknown> | unknown): Promise<[number, number]> => {
    if (round % 2) {
      const ta = await time(a);
      return [ta, await time(b)];
    }
    const tb = await time(b);
    return [await time(a), tb];
  };
  const [tCreate, tBaseC] = await pair(
    () => createBackup(cfg, { out }),
    () => sh(tarEnc),
  );
  await rm(join(root, 'base.enc'));
  // The same, made durable as the backup is (it fsyncs its file before calling it done).
  const tBaseS = await time(() => sh(`${tarEnc} && sync ${root}/base.enc`));
  const [tVerify, tBaseV] = await pair(
    async () => verifyBackup([out], await openKey()),
    () => sh(`openssl enc -d -aes-256-ctr -pbkdf2 -pass pass:bench -in ${root}/base.enc | tar -tf - > /dev/null`),
  );
  const tKdf = await time(async () => openBackupFile(out, await openKey()));
  const [tStruct, tSum] = await pair(
    () => verifyBackupStructure([out], [signer]),
    () => sh(`sha256sum ${out} > /dev/null`),
  );
  rounds['verify, structure and signature only (no key)'].push([mb / tStruct, mb / tSum]);
  kdf.push(tKdf);
  const [tCheck, tSha] = await pair(
    () => runIntegrityCheck(cfg),
    () => sh(`find ${cfg.dataDir}/items -type f -print0 | xargs -0 sha256sum > /dev/null`),
  );
  rounds.create.push([mb / tCreate, mb / tBaseC]);
  rounds['create, baseline synced'].push([mb / tCreate, mb / tBaseS]);
  rounds.verify.push([mb / tVerify, mb / tBaseV]);
  rounds['verify, past its key derivation'].push([mb / (tVerify - tKdf), mb / tBaseV]);
  const tBaseH = await time(() => sh(`openssl enc -d -aes-256-ctr -pbkdf2 -pass pass:bench -in ${root}/base.enc | tar -xOf - | openssl dgst -sha256 > /dev/null`));
  rounds['verify, baseline also hashing'].push([mb / tVerify, mb / tBaseH]);
  rounds['archive verify (hash+pdf+checks)'].push([mb / tCheck, mb / tSha]);
  await rm(out);
  await rm(join(root, 'base.enc'));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`\n${n} items, ${mb.toFixed(0)} MB of item files, ${ROUNDS} rounds; medians (machine shared: ratios in the same round are what count)\n`);
console.log('| operation | archive MB/s | baseline MB/s | ratio (median) | ratios per round | baseline |');
console.log('|---|---|---|---|---|---|');
for (const [name, rs] of Object.entries(rounds) as Array<[keyof typeof OPS, Array<[number, number]>]>) {
  const ratios = rs.map(([a, b]) => a / b);
  console.log(
    `| ${name} | ${median(rs.map((r) => r[0])).toFixed(0)} | ${median(rs.map((r) => r[1])).toFixed(0)} | ${median(ratios).toFixed(2)} | ${ratios.map((r) => r.toFixed(2)).join(' ')} | ${OPS[name]} |`,
  );
}
console.log(`\nkey opening (scrypt identity + X25519 unwrap): median ${(median(kdf) * 1000).toFixed(0)} ms per backup file, whatever its size`);
if (!process.env.ARCHIVE_BENCH_KEEP) await rm(root, { recursive: true, force: true });
