import { ApplianceError, RETENTIONS, type Retention } from '../core/index.ts';

/** The parts of a 档号 (DA/T 22-2015): 全宗号-年度-保管期限-机构(问题)代码-件号. */
export interface ArchivalCodeParts {
  /** Normalised code: upper case, ASCII hyphens, 件号 padded to four digits. */
  archivalCode: string;
  fonds: string;
  year: number;
  retention: Retention;
  department: string;
  itemNo: number;
}

const PART = /^[A-Z0-9]{1,16}$/;

/**
 * Parse a 档号. Full-width characters and hyphen look-alikes are folded (NFKC, —, －, ‐) so what
 * was typed in Excel with a Chinese input method still parses; the normalised form is what
 * uniqueness is judged on (J012-2014-Y-BGS-42 and J012-2014-Y-BGS-0042 are the same 件).
 * Returns a Chinese reason instead of throwing, because the CSV check collects every problem.
 */
export function parseArchivalCode(input: string): { ok: true; value: ArchivalCodeParts } | { ok: false; reason: string } {
  const s = input
    .normalize('NFKC')
    .replace(/[\u2010-\u2015\u2212\uFE58\uFE63]/g, '-')
    .replace(/\s+/g, '')
    .toUpperCase();
  const parts = s.split('-');
  if (parts.length !== 5) return { ok: false, reason: `档号“${input}”应为 全宗号-年度-保管期限-机构代码-件号 五段，如 J012-2014-Y-BGS-0042` };
  const [fonds, yearS, retention, department, itemNoS] = parts;
  if (!PART.test(fonds)) return { ok: false, reason: `档号“${input}”的全宗号“${fonds}”应为字母或数字` };
  if (!/^\d{4}$/.test(yearS) || Number(yearS) < 1000) return { ok: false, reason: `档号“${input}”的年度“${yearS}”应为四位年份` };
  if (!(RETENTIONS as readonly string[]).includes(retention)) return { ok: false, reason: `档号“${input}”的保管期限“${retention}”应为 Y、D30 或 D10` };
  if (!PART.test(department)) return { ok: false, reason: `档号“${input}”的机构（问题）代码“${department}”应为字母或数字` };
  if (!/^\d{1,6}$/.test(itemNoS) || Number(itemNoS) < 1) return { ok: false, reason: `档号“${input}”的件号“${itemNoS}”应为正整数` };
  const itemNo = Number(itemNoS);
  const year = Number(yearS);
  return {
    ok: true,
    value: {
      archivalCode: [fonds, yearS, retention, department, String(itemNo).padStart(4, '0')].join('-'),
      fonds,
      year,
      retention: retention as Retention,
      department,
      itemNo,
    },
  };
}

/** Same as parseArchivalCode, throwing ARCHIVAL_CODE_INVALID for callers outside the CSV check. */
export function requireArchivalCode(input: string): ArchivalCodeParts {
  const r = parseArchivalCode(input);
  if (!r.ok) throw new ApplianceError('ARCHIVAL_CODE_INVALID', r.reason, `invalid archival code: ${input}`, { details: { archivalCode: input } });
  return r.value;
}
