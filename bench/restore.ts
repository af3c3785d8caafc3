// Restore throughput against `tar -x` of the same data as a plain tar, then `sync` (the restore
// is durable before it says done), in the same run, alternating which goes first; and where the
// restore's time goes (its stages, from RestoreOptions.onStage).
// Usage: npx tsx bench/restore.ts [MB]   (default 500; ARCHIVE_BENCH_ROUNDS=5; ARCHIVE_BENCH_KEEP=1 keeps the temp dir)
import { execSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.ts';
import { ItemStore } from '../ingest/index.ts';
import { addRecipient, generateIdentity, loadOrCreateSigningKey, openIdentity } from '../custody/backup-keys.ts';
import { createBackup } from '../custody/backup.ts';
import { fillStore } from './backup-corpus.ts';
import { restoreBackup } from '../custody/backup-restore.ts';

const targetMb = Number(process.argv[2] ?? 500);
const root = await mkdtemp(join(tmpdir(), 'bench-restore-'));
const cfg = loadConfig({ overrides: { dataDir: join(root, 'data'), clamd: 'unix:/nonexistent/clamd.sock' } });
const store = await ItemStore.open(cfg.dataDir);

const n = await fillStore(store, root, targetMb);

const passphrase = 'bench passphrase 2026';
const gen = await generateIdentity(passphrase);
await writeFile(join(root, 'secadmin.key'), gen.identityFile, { mode: 0o600 });
await addRecipient(cfg.dataDir, gen.publicKey, { actor: { actor: 'bench', role: '安全保密管理员', source: 'bench' } });
const signer = (await loadOrCreateSigningKey(cfg.dataDir)).publicKey;
const bak = join(root, 'full.bak');
await createBackup(cfg, { out: bak });
// The baseline's input: the same folders as a plain tar (no encryption, no signature, no hashes).
const plain = join(root, 'plain.tar');
execSync(`tar -cf ${plain} -C ${cfg.dataDir} config items audit jobs`);
const bytes = Number(execSync(`tar -tvf ${plain} | awk '{s+=$3} END {print s}'`, { shell: '/bin/bash' }).toString());
const mb = bytes / 1e6;
const files = Number(execSync(`tar -tf ${plain} | grep -vc '/$'`, { shell: '/bin/bash' }).toString());
// Both inputs in the page cache: each side pays for its writes, not for reading its input.
execSync(`cat ${bak} ${plain} > /dev/null`);

const sh = (cmd: string) => execSync(cmd, { shell: '/bin/bash', stdio: ['ignore', 'ignore', 'inherit'] });
const time = async (fn: () => Promise<unknown> | unknown) => {
  // Nothing left to write back from the step before.
  execSync('sync');
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const ROUNDS = Number(process.env.ARCHIVE_BENCH_ROUNDS ?? 5);
const rows: Array<{ restore: number; base: number; stages: Map<string, number>; cpu: number; baseCpu: number }> = [];
for (let round = 1; round <= ROUNDS; round++) {
  const out = join(root, `r${round}`);
  const baseOut = join(root, `t${round}`);
  const stages = new Map<string, number>();
  // Opening the identity (scrypt) is part of every restore, as in bench/backup.ts.
  const restore = async () => {
    const t = process.hrtime.bigint();
    const identity = await openIdentity(join(root, 'secadmin.key'), passphrase);
    stages.set('identity (scrypt)', Number(process.hrtime.bigint() - t) / 1e6);
    await restoreBackup([bak], { dataDir: out, key: { identity, trustedSigners: [signer] }, onStage: (s, ms) => stages.set(s, (stages.get(s) ?? 0) + ms) });
  };
  // CPU seconds too (user + system, every thread): on a loaded machine they say more than the clock.
  let cpu = 0;
  const timedRestore = async () => {
    const c = process.cpuUsage();
    await restore();
    const d = process.cpuUsage(c);
    cpu = (d.user + d.system) / 1e6;
  };
  const cpuFile = join(root, 'cpu.txt');
  const base = () => sh(`TIMEFORMAT='%U %S'; { time (mkdir ${baseOut} && tar -xf ${plain} -C ${baseOut} && sync) ; } 2> ${cpuFile}`);
  let tr: number, tb: number;
  if (round % 2) {
    tr = await time(timedRestore);
    tb = await time(base);
  } else {
    tb = await time(base);
    tr = await time(timedRestore);
  }
  const baseCpu = (await readFile(cpuFile, 'utf8'))
    .trim()
    .split(/\s+/)
    .map(Number)
    .reduce((a, b) => a + b, 0);
  rows.push({ restore: tr, base: tb, stages, cpu, baseCpu });
  await rm(out, { recursive: true, force: true });
  await rm(baseOut, { recursive: true, force: true });
  process.stderr.write(
    `round ${round}: restore ${(mb / tr).toFixed(0)} MB/s, tar -x + sync ${(mb / tb).toFixed(0)} MB/s, ratio ${(tb / tr).toFixed(2)}; CPU s ${cpu.toFixed(2)} vs ${baseCpu.toFixed(2)}; load ${loadavg()[0].toFixed(1)}\n`,
  );
}

console.log(`\n${n} items, ${files} files, ${mb.toFixed(0)} MB of plaintext, ${ROUNDS} rounds; medians (machine shared: ratios in the same round are what count)\n`);
console.log('| operation | archive MB/s | tar -x + sync MB/s | ratio (median) | ratios per round |');
console.log('|---|---|---|---|---|');
const ratios = rows.map((r) => r.base / r.restore);
console.log(
  `| restore (full backup) | ${median(rows.map((r) => mb / r.restore)).toFixed(0)} | ${median(rows.map((r) => mb / r.base)).toFixed(0)} | ${median(ratios).toFixed(2)} | ${ratios.map((r) => r.toFixed(2)).join(' ')} |`,
);
const names = [...new Set(rows.flatMap((r) => [...r.stages.keys()]))];
if (names.length) {
  console.log('\n| restore stage | median ms | per round |');
  console.log('|---|---|---|');
  for (const s of names) {
    const v = rows.map((r) => r.stages.get(s) ?? 0);
    console.log(`| ${s} | ${median(v).toFixed(0)} | ${v.map((x) => x.toFixed(0)).join(' ')} |`);
  }
  const tot = rows.map((r) => r.restore * 1000);
  console.log(`| (total) | ${median(tot).toFixed(0)} | ${tot.map((x) => x.toFixed(0)).join(' ')} |`);
}
console.log(
  `\nCPU seconds (user + system, all threads): restore median ${median(rows.map((r) => r.cpu)).toFixed(2)}, tar -x + sync median ${median(rows.map((r) => r.baseCpu)).toFixed(2)}; 1-min load average at the end ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`,
);
if (!process.env.ARCHIVE_BENCH_KEEP) await rm(root, { recursive: true, force: true });
