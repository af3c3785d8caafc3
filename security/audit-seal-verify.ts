import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SEALS_FILE, SEAL_INTERVAL_MS, evolveKey, keyIdOf, macMatches, parseSeal, type Seal, type SealKeyState } from './audit-seal.ts';
import type { AuditBreak } from './audit-record.ts';

export interface ParsedSeals {
  seals: Array<{ seal: Seal; line: number }>;
  /** The first line that is not a seal. */
  bad?: number;
}

/** seals.jsonl up to `size` bytes (its size under the append lock), stopping at the first bad line. */
export async function readSeals(dir: string, size: number): Promise<ParsedSeals> {
  const out: ParsedSeals = { seals: [] };
  if (size === 0) return out;
  const rl = createInterface({ input: createReadStream(join(dir, SEALS_FILE), { encoding: 'utf8', start: 0, end: size - 1 }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    const seal = parseSeal(text);
    if (!seal) {
      out.bad = line;
      rl.close();
      break;
    }
    out.seals.push({ seal, line });
  }
  return out;
}

export interface SegmentReport {
  /** Key id (fingerprint of the verification key) of this run of seals. */
  key: string;
  seals: number;
  firstSeq: number;
  lastSeq: number;
  lastI: number;
  lastTime: string;
  verified: boolean;
}

export interface SealCheck {
  broken?: { seq: number; line: number; kind: AuditBreak; zh: string; en: string };
  keysGiven: number;
  segments: SegmentReport[];
  records: number;
  unsealed: number;
  lastRecordTime?: string;
  keyState: 'present' | 'absent' | 'corrupt';
  keyStateChecked: boolean;
}

export interface SealReport {
  /** verified: every seal proven with a given key; partial: some runs of seals had no key given; unchecked: no key given; failed. */
  status: 'verified' | 'partial' | 'unchecked' | 'failed';
  seals: number;
  segments: SegmentReport[];
  lastSeal?: { key: string; i: number; seq: number; time: string };
  /** Records after the last seal (sealed within SEAL_INTERVAL_MS while the appliance runs). */
  unsealed: number;
  keyState: 'present' | 'absent' | 'corrupt';
  zh: string;
  en: string;
}

interface Input {
  parsed?: ParsedSeals;
  records: number;
  chainOk: boolean;
  sealedHashes: Map<number, string>;
  keys: Buffer[];
  keyState?: SealKeyState | 'corrupt';
  requireSealKey: boolean;
  lastTime?: string;
}

/**
 * The seals against the chain (structure, no key needed) and, for each run of seals whose
 * verification key is given, every MAC and the sealing key file (it must be exactly k_i of the
 * epoch after the last seal: whoever cut seals from the end cannot turn the key back).
 */
export function checkSeals(inp: Input): SealCheck {
  const segments: SegmentReport[] = [];
  const keyStateKind = inp.keyState === 'corrupt' ? 'corrupt' : inp.keyState ? 'present' : 'absent';
  const res: SealCheck = { keysGiven: inp.keys.length, segments, records: inp.records, unsealed: inp.records, lastRecordTime: inp.lastTime, keyState: keyStateKind, keyStateChecked: false };
  const fail = (seq: number, line: number, kind: AuditBreak, zh: string, en: string): SealCheck => ({
    ...res,
    broken: { seq, line, kind, zh: `${SEALS_FILE} 第 ${line} 行：${zh}`, en: `${SEALS_FILE}:${line}: ${en}` },
  });
  if (!inp.parsed) {
    if (inp.records > 0 || inp.keyState) return fail(0, 0, 'seals-missing', '封印文件缺失（封印被删除）：无法证明任何记录未被改动', 'seals.jsonl missing');
    return res;
  }
  if (inp.parsed.bad) return fail(0, inp.parsed.bad, 'seal-unparseable', '无法解析（封印被改动或插入了非法行）', 'not a valid seal');
  const byId = new Map(inp.keys.map((k) => [keyIdOf(k), k]));
  // Per run of seals with a known key: the key of the next seal, and of the last one.
  let cur: Buffer | undefined;
  let prevKey: Buffer | undefined;
  let prevSeq = 0;
  for (const { seal, line } of inp.parsed.seals) {
    let seg = segments[segments.length - 1];
    if (!seg || seg.key !== seal.key) {
      if (segments.some((x) => x.key === seal.key))
        return fail(seal.seq, line, 'seal-order', `密钥 ${seal.key} 的封印在另一密钥的封印之后再次出现（封印被移动）`, `seals of key ${seal.key} reappear after another key's`);
      if (seal.i !== 0) return fail(seal.seq, line, 'seal-order', `密钥 ${seal.key} 的封印第 0–${seal.i - 1} 期缺失（被删除）`, `seals 0..${seal.i - 1} of key ${seal.key} missing`);
      const k0 = byId.get(seal.key);
      cur = k0 ? Buffer.from(k0) : undefined;
      seg = { key: seal.key, seals: 0, firstSeq: seal.seq, lastSeq: seal.seq, lastI: -1, lastTime: seal.time, verified: !!k0 };
      segments.push(seg);
    } else if (seal.i !== seg.lastI + 1) {
      return seal.i <= seg.lastI
        ? fail(seal.seq, line, 'seal-order', `封印第 ${seal.i} 期出现在第 ${seg.lastI} 期之后（封印被复制或调换）`, `seal epoch ${seal.i} after ${seg.lastI}`)
        : fail(seal.seq, line, 'seal-order', `封印第 ${seg.lastI + 1}–${seal.i - 1} 期缺失（被删除）`, `seal epochs ${seg.lastI + 1}..${seal.i - 1} missing`);
    }
    if (seal.seq <= prevSeq)
      return fail(seal.seq, line, 'seal-order', `封印第 ${seal.i} 期指向记录 ${seal.seq}，不在前一个封印（记录 ${prevSeq}）之后`, `seal ${seal.i} covers seq ${seal.seq}, not after ${prevSeq}`);
    if (inp.chainOk) {
      if (seal.seq > inp.records)
        return fail(
          seal.seq,
          line,
          'seal-beyond-end',
          `封印第 ${seal.i} 期封住了记录 ${seal.seq}，而审计链只有 ${inp.records} 条：末尾记录被删除`,
          `seal ${seal.i} covers seq ${seal.seq} beyond the last record ${inp.records} (records cut)`,
        );
      if (inp.sealedHashes.get(seal.seq) !== seal.hash)
        return fail(
          seal.seq,
          line,
          'seal-mismatch',
          `记录 ${seal.seq} 的哈希与封印第 ${seal.i} 期所封的不符（封印之前的记录被改动并重算了哈希链）`,
          `record ${seal.seq} hash differs from seal ${seal.i} (records before it edited and re-hashed)`,
        );
    }
    if (cur) {
      if (!macMatches(cur, seal))
        return fail(
          seal.seq,
          line,
          'seal-forged',
          `封印第 ${seal.i} 期（记录 ${seal.seq}）的校验值与验证密钥不符（封印被伪造或改动）`,
          `seal ${seal.i} (seq ${seal.seq}) MAC does not verify (forged or altered)`,
        );
      prevKey = cur;
      cur = evolveKey(cur);
    }
    seg.seals++;
    seg.lastSeq = seal.seq;
    seg.lastI = seal.i;
    seg.lastTime = seal.time;
    prevSeq = seal.seq;
  }
  const last = segments[segments.length - 1];
  res.unsealed = Math.max(0, inp.records - (last?.lastSeq ?? 0));
  const state = inp.keyState;
  if (state && state !== 'corrupt') {
    const seg = segments.find((x) => x.key === state.key);
    const k0 = byId.get(state.key);
    if (seg && seg !== last) return fail(0, 0, 'seal-key-forged', `封印密钥文件属于较早的密钥段 ${state.key}（密钥文件被替换）`, `sealing key file belongs to an earlier key ${state.key}`);
    if (!seg && state.i !== 0) return fail(0, 0, 'seals-truncated', `封印密钥已到第 ${state.i} 期，却没有它的任何封印（封印被删除）`, `sealing key at epoch ${state.i} but none of its seals`);
    if (seg && state.i > seg.lastI + 1)
      return fail(
        0,
        0,
        'seals-truncated',
        `封印第 ${seg.lastI + 1}–${state.i - 1} 期缺失：封印密钥已到第 ${state.i} 期（末尾的封印被删除）`,
        `seal epochs ${seg.lastI + 1}..${state.i - 1} missing: the key is at epoch ${state.i}`,
      );
    if (seg && state.i < seg.lastI)
      return fail(
        0,
        0,
        'seal-key-forged',
        `封印密钥文件在第 ${state.i} 期，早于最后一个封印（第 ${seg.lastI} 期）：密钥文件被替换`,
        `sealing key at epoch ${state.i} before the last seal ${seg.lastI}`,
      );
    if (k0) {
      // The key file must be exactly k_i: cutting seals and writing back an earlier index needs an erased key.
      const want = !seg ? Buffer.from(k0) : state.i === seg.lastI + 1 ? cur : prevKey;
      if (!want || !want.equals(Buffer.from(state.k, 'hex')))
        return fail(0, 0, 'seal-key-forged', `封印密钥文件与验证密钥推算出的第 ${state.i} 期密钥不符（密钥文件被替换）`, `sealing key file is not k_${state.i} of the verification key`);
      res.keyStateChecked = true;
    }
  } else if (inp.requireSealKey && (inp.records > 0 || segments.length)) {
    return fail(
      0,
      0,
      'seal-key-missing',
      state === 'corrupt' ? '封印密钥文件已损坏：无法证明末尾的封印未被删除' : '封印密钥文件缺失：无法证明末尾的封印未被删除（刚恢复备份或升级的，请在控制台运行 archive audit resume）',
      state === 'corrupt' ? 'sealing key file corrupt' : 'sealing key file missing',
    );
  }
  if (inp.keys.length && !segments.some((x) => x.verified) && !res.keyStateChecked) {
    const ids = [...byId.keys()].join('、');
    return fail(0, 0, 'seal-key-unknown', `所给验证密钥（指纹 ${ids}）与本审计链的封印都不对应：审计链被整体替换，或给错了密钥`, `no seal belongs to the given verification key(s) ${ids}`);
  }
  return res;
}

function fmt(t: string): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString('zh-CN', { hour12: false });
}

/** The report with a plain sentence: what was proven, and plainly when the seals were not checked. */
export function sealSummary(c: SealCheck): SealReport {
  const count = c.segments.reduce((n, s) => n + s.seals, 0);
  const last = c.segments[c.segments.length - 1];
  const lastSeal = last ? { key: last.key, i: last.lastI, seq: last.lastSeq, time: last.lastTime } : undefined;
  const base = { seals: count, segments: c.segments, lastSeal, unsealed: c.unsealed, keyState: c.keyState };
  const mins = Math.round(SEAL_INTERVAL_MS / 60_000);
  const tailZh = c.unsealed ? `其后 ${c.unsealed} 条记录尚未封印（运行中每 ${mins} 分钟封印一次）。` : '';
  const tailEn = c.unsealed ? ` ${c.unsealed} record(s) after it not sealed yet.` : '';
  const lastZh = lastSeal ? `末次封印为第 ${lastSeal.i} 期（${fmt(lastSeal.time)}），封至记录 ${lastSeal.seq}。` : '尚无封印。';
  if (c.broken) return { ...base, status: 'failed', zh: `封印核验失败：${c.broken.zh}`, en: `seal check failed: ${c.broken.en}` };
  if (!c.keysGiven) {
    return {
      ...base,
      status: 'unchecked',
      zh: `未核验封印：没有提供验证密钥，只校验了哈希链（${count ? `共 ${count} 个封印，${lastZh}` : '尚无封印。'}）哈希链可被持有数据目录的人整体重算，要证明记录未被改动、删除或截断，请用安全审计员保管的验证密钥核验（archive audit verify --verification-key 文件，或在审计页粘贴密钥）。`,
      en: `seals NOT checked (no verification key given): only the hash chain was verified (${count} seals).`,
    };
  }
  const unverified = c.segments.filter((s) => !s.verified);
  const keyNote = c.keyState === 'absent' ? '此副本不含封印密钥（备份不带密钥），无法证明末尾的封印未被删除。' : '';
  if (unverified.length) {
    const list = unverified.map((s) => `自记录 ${s.firstSeq} 起的 ${s.seals} 个封印（密钥指纹 ${s.key}）`).join('；');
    return {
      ...base,
      status: 'partial',
      zh: `部分封印已核验：${count - unverified.reduce((n, s) => n + s.seals, 0)} 个封印核验通过；${list}由另一验证密钥生成，未核验，请一并提供该密钥（每次 archive audit resume 会生成新的验证密钥）。${lastZh}${tailZh}${keyNote}`,
      en: `seals partly verified: ${unverified.length} key segment(s) without a given key.${tailEn}`,
    };
  }
  if (!count) {
    return {
      ...base,
      status: 'verified',
      zh: `尚无封印（首个封印在首条记录之后 ${mins} 分钟内生成）。${c.keyStateChecked ? '本机的封印密钥与验证密钥相符。' : ''}${tailZh}`,
      en: `no seal yet.${tailEn}`,
    };
  }
  return {
    ...base,
    status: 'verified',
    zh: `封印全部核验通过：${count} 个封印均由验证密钥证明，此前的记录未被改动、删除、调换或截断。${lastZh}${tailZh}${keyNote}`,
    en: `all ${count} seals verified.${tailEn}`,
  };
}
