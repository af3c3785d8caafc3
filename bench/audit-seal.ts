// Audit appends with forward-secure sealing, against the same appends with sealing pushed out of
// the run, a raw write+fsync baseline, the cost of one seal, and verify with and without the key —
// all in one run (the machine is shared: compare ratios, not absolute figures).
// Run: npx tsx bench/audit-seal.ts
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, parseVerificationKeys, verifyAudit } from '../security/index.ts';

const rec = { actor: 'bench', role: 'staff', source: '127.0.0.1', action: 'item.search', target: '档案', outcome: 'success' as const, details: { q: '机构编制', hits: 12 } };

async function rate(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return n / ((performance.now() - t) / 1000);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-seal-'));
  try {
    const M = 300;
    const N = 5000;
    const fh = await open(join(dir, 'raw.jsonl'), 'a');
    const line = `${JSON.stringify(rec)}\n`;
    const raw = await rate(M, async () => {
      for (let i = 0; i < M; i++) {
        await fh.write(line);
        await fh.sync();
      }
    });
    await fh.close();
    const run = async (name: string, opts: ConstructorParameters<typeof AuditLog>[1]) => {
      const log = new AuditLog(join(dir, name, 'audit'), { ...opts });
      await log.append(rec);
      const seq = await rate(M, async () => {
        for (let i = 0; i < M; i++) await log.append(rec);
      });
      const burst = await rate(N, () => Promise.all(Array.from({ length: N }, () => log.append(rec))));
      return { log, seq, burst };
    };
    // Alternate the two a few times: the shared machine's load drifts.
    const off: Array<{ seq: number; burst: number }> = [];
    const on: Array<{ log: AuditLog; seq: number; burst: number }> = [];
    for (let r = 0; r < 3; r++) {
      off.push(await run(`off-${r}`, { sealIntervalMs: 3_600_000, sealEveryRecords: 1e9 }));
      on.push(await run(`on-${r}`, {}));
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const fmt = (x: number) => `${x.toFixed(0)} records/s`;
    console.log(`baseline  raw write + fsync per record:              ${fmt(raw)}`);
    console.log(`audit     one at a time, no seal in the run:          ${fmt(med(off.map((x) => x.seq)))}`);
    console.log(`audit     one at a time, sealing (60 s / 1000 rec):   ${fmt(med(on.map((x) => x.seq)))}  (${(med(on.map((x) => x.seq)) / med(off.map((x) => x.seq))).toFixed(2)}× without)`);
    console.log(`audit     ${N} concurrent, no seal in the run:        ${fmt(med(off.map((x) => x.burst)))}`);
    console.log(`audit     ${N} concurrent, sealing every 1000 records: ${fmt(med(on.map((x) => x.burst)))}  (${(med(on.map((x) => x.burst)) / med(off.map((x) => x.burst))).toFixed(2)}× without)`);
    // One seal: append a record, then time sealNow (seal line + fdatasync, key file replaced and the old one overwritten).
    const log = new AuditLog(join(dir, 'one', 'audit'), { sealIntervalMs: 3_600_000, sealEveryRecords: 1e9 });
    const seals: number[] = [];
    for (let i = 0; i < 30; i++) {
      await log.append(rec);
      const t = performance.now();
      await log.sealNow();
      seals.push(performance.now() - t);
    }
    seals.sort((a, b) => a - b);
    console.log(`seal      one seal (under the lock):                 median ${seals[15].toFixed(2)} ms  p90 ${seals[27].toFixed(2)} ms`);
    const big = on[0].log;
    await big.settle();
    const keys = parseVerificationKeys(await readFile(join(dir, 'on-0', 'config', 'audit-verification-key.txt'), 'utf8'));
    let v = await verifyAudit(big.dir);
    const t0 = performance.now();
    v = await verifyAudit(big.dir);
    const plain = performance.now() - t0;
    const t1 = performance.now();
    const w = await verifyAudit(big.dir, { keys, requireSealKey: true });
    const keyed = performance.now() - t1;
    console.log(`verify    ${v.records} records, ${w.seals?.seals} seals: chain only ${plain.toFixed(0)} ms, with the key ${keyed.toFixed(0)} ms (${w.seals?.status})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
