import { lstat, readdir, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import { CLASSIFICATIONS, type Classification, ApplianceError, classificationRank, type Retention, SHARING_SCOPES, SHARING_SCOPE_LABELS } from '../core/index.ts';
import { parseArchivalCode } from './archival-code.ts';
import type { IntakeMetadata } from './jobs.ts';
import { openRegularNoFollow, RefusedFile } from './no-follow.ts';

/**
 * The CSV that archivists put beside their scans. Columns, by the Chinese header they
 * already use or its English alias (either, in any order, any case for English):
 *
 *   文件 file (required)  a file, or a folder of page images, relative to the CSV's folder
 *   档号 archivalCode     全宗号-年度-保管期限-机构代码-件号, unique within the CSV
 *   题名 title, 文号 docNumber, 责任者 responsible
 *   日期 date             2014-03-12, 20140312, 2014年3月12日 (also 2014/3/12, 2014.3.12)
 *   保管期限 retention    Y D30 D10 or 永久 定期30年 30年 定期10年 10年
 *   密级 classification   公开 内部 秘密 机密 绝密
 *   岗位 posts            several posts separated by ; ； ， or 、 (a post code never holds these)
 *   共享范围 sharing      本单位 上级 全辖区 (联合检索; empty = 本单位)
 *
 * 序号/no, 页数/pages and 备注/notes columns are allowed and ignored; any other column is an
 * error, so a misspelt header never silently drops what the archivist typed. UTF-8 (with or
 * without BOM) or GB18030 (what Excel saves here by default), detected by trying strict UTF-8
 * first. Everything is checked before anything is processed, and every problem is reported with
 * its line number.
 */

export const CSV_COLUMNS = {
  file: '文件',
  archivalCode: '档号',
  title: '题名',
  docNumber: '文号',
  responsible: '责任者',
  date: '日期',
  retention: '保管期限',
  classification: '密级',
  posts: '岗位',
  sharing: '共享范围',
} as const;
export type CsvColumn = keyof typeof CSV_COLUMNS;

const IGNORED = new Set(['序号', '页数', '备注', 'no', 'pages', 'notes', 'remarks']);
const MAX_CSV_BYTES = 10 * 1024 * 1024;
const LIMITS: Partial<Record<CsvColumn, number>> = { title: 2000, docNumber: 200, responsible: 500 };

export interface CsvManifestRow {
  /** Line of the file where the row starts (the header is line 1). */
  line: number;
  /** As written, normalised: NFC, "/" separators. */
  file: string;
  /** Absolute path on this machine. */
  path: string;
  /** Set when the file system was checked (readCsvManifest). */
  kind?: 'file' | 'folder';
  metadata: IntakeMetadata;
}

export interface CsvProblem {
  /** Line in the CSV (1 = header); 0 for problems with the file as a whole. */
  line: number;
  /** The column's header as written in the file. */
  column?: string;
  /** 1-based position of that column (A = 1), as a spreadsheet shows it. */
  columnNumber?: number;
  code: string;
  message: string;
}

export interface CsvManifest {
  encoding: 'utf-8' | 'gb18030';
  rows: CsvManifestRow[];
  problems: CsvProblem[];
}

export interface CsvCheckOptions {
  /** Refuse rows above the appliance's classification ceiling already here. */
  ceiling?: Classification;
  /** Post codes that exist; when given, an unknown post is a problem. */
  knownPosts?: ReadonlySet<string>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Text of a CSV file: BOM-less or BOM UTF-8, else GB18030. UTF-16 is refused with advice. */
export function decodeCsv(bytes: Uint8Array): { text: string; encoding: 'utf-8' | 'gb18030' } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)) {
    throw new ApplianceError('CSV_ENCODING', 'CSV 文件是 UTF-16 编码（Excel“Unicode 文本”），请另存为“CSV UTF-8（逗号分隔）”或“CSV（逗号分隔）”。', 'CSV is UTF-16; save as CSV UTF-8 or CSV');
  }
  const body = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b;
  try {
    return { text: utf8.decode(body), encoding: 'utf-8' };
  } catch {
    return { text: iconv.decode(body, 'gb18030'), encoding: 'gb18030' };
  }
}

/** Read and check a CSV manifest, including that every named file or folder exists inside the CSV's folder. */
export async function readCsvManifest(csvPath: string, opts: CsvCheckOptions = {}): Promise<CsvManifest> {
  const abs = resolve(csvPath);
  let bytes: Buffer;
  try {
    // The manifest itself is read only if it is a regular file, not a link (no-follow.ts).
    const fh = await openRegularNoFollow(abs, false);
    try {
      if ((await fh.stat()).size > MAX_CSV_BYTES) {
        throw new ApplianceError('CSV_TOO_LARGE', `CSV 文件过大（超过 10 MB）：${basename(abs)}`, `CSV larger than 10 MB: ${basename(abs)}`, { status: 413 });
      }
      bytes = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof ApplianceError) throw e;
    if (e instanceof RefusedFile) {
      throw new ApplianceError(
        e.kind === 'link' ? 'LINK_REFUSED' : 'SPECIAL_FILE_REFUSED',
        `CSV 清单“${basename(abs)}”${e.kind === 'link' ? '是符号链接' : '不是普通文件'}，已拒绝（导入不跟随链接）`,
        `CSV manifest is a ${e.kind}: refused`,
        { status: 400, details: { problems: [{ line: 0, code: e.kind === 'link' ? 'LINK_REFUSED' : 'SPECIAL_FILE_REFUSED', message: basename(abs) }] } },
      );
    }
    // The name only: an uploaded CSV lives under the server's own folders, which are nobody's business.
    throw new ApplianceError('CSV_NOT_FOUND', `找不到 CSV 清单文件：${basename(csvPath)}`, `CSV not readable: ${basename(csvPath)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { status: 400 });
  }
  // Rows are resolved against the CSV's folder as it really is; nothing below it may be a link.
  const base = await realpath(dirname(abs));
  const manifest = parseCsvManifest(bytes, base, opts);
  const fileCol = { column: manifest.headerOf.file, columnNumber: manifest.fileColumn };
  for (const row of manifest.rows) {
    let st;
    try {
      st = await lstat(row.path);
    } catch {
      manifest.problems.push({ line: row.line, ...fileCol, code: 'CSV_FILE_NOT_FOUND', message: `${where(row.line, fileCol)}：找不到“${row.file}”（相对于 CSV 所在目录）` });
      continue;
    }
    // A link is refused wherever it leads: as the row itself or as a folder on its way.
    const real = st.isSymbolicLink() ? undefined : await realpath(row.path).catch(() => undefined);
    if (real !== row.path) {
      manifest.problems.push({
        line: row.line,
        ...fileCol,
        code: 'LINK_REFUSED',
        message: `${where(row.line, fileCol)}：“${row.file}”是符号链接或经过符号链接，已拒绝（导入不跟随链接，请复制文件本身）`,
      });
      continue;
    }
    if (st.isFile()) row.kind = 'file';
    else if (st.isDirectory()) {
      row.kind = 'folder';
      for (const e of await readdir(row.path, { withFileTypes: true })) {
        if (e.isSymbolicLink()) {
          manifest.problems.push({
            line: row.line,
            ...fileCol,
            code: 'LINK_REFUSED',
            message: `${where(row.line, fileCol)}：目录“${row.file}”中的“${e.name}”是符号链接，已拒绝（导入不跟随链接，请复制文件本身）`,
          });
        } else if (!e.isFile() && !e.isDirectory()) {
          manifest.problems.push({
            line: row.line,
            ...fileCol,
            code: 'SPECIAL_FILE_REFUSED',
            message: `${where(row.line, fileCol)}：目录“${row.file}”中的“${e.name}”不是普通文件（设备、管道或套接字），已拒绝`,
          });
        }
      }
    } else manifest.problems.push({ line: row.line, ...fileCol, code: 'SPECIAL_FILE_REFUSED', message: `${where(row.line, fileCol)}：“${row.file}”不是普通文件或目录（设备、管道或套接字），已拒绝` });
  }
  manifest.problems.sort((a, b) => a.line - b.line);
  return { encoding: manifest.encoding, rows: manifest.rows, problems: manifest.problems };
}

/** Check CSV bytes. Paths are resolved against baseDir but not opened (readCsvManifest does that). */
export function parseCsvManifest(bytes: Uint8Array, baseDir: string, opts: CsvCheckOptions = {}): CsvManifest & { headerOf: Record<CsvColumn, string>; fileColumn?: number } {
  const { text, encoding } = decodeCsv(bytes);
  const problems: CsvProblem[] = [];
  if (encoding === 'gb18030' && text.includes('\ufffd')) {
    problems.push({ line: 0, code: 'CSV_ENCODING', message: 'CSV 文件的编码无法识别（既不是 UTF-8 也不是 GB18030）：请用 Excel 另存为“CSV UTF-8（逗号分隔）”' });
  }
  const headerOf = { ...CSV_COLUMNS } as Record<CsvColumn, string>;
  const out: CsvManifest & { headerOf: Record<CsvColumn, string>; fileColumn?: number } = { encoding, rows: [] as CsvManifestRow[], problems, headerOf };

  let records: Array<{ record: string[]; info: { lines: number }; raw: string }>;
  try {
    records = parse(text, { info: true, raw: true, relax_column_count: true, skip_empty_lines: true, bom: true }) as unknown as typeof records;
  } catch (e) {
    const line = Number((e as { lines?: number }).lines) || 0;
    problems.push({ line, code: 'CSV_SYNTAX', message: `CSV 格式错误（第 ${line} 行附近）：${(e as { code?: string }).code === 'CSV_QUOTE_NOT_CLOSED' ? '引号未闭合' : (e as Error).message}` });
    return out;
  }
  const startLine = (r: { info: { lines: number }; raw: string }) => r.info.lines - (r.raw.replace(/\r?\n$/, '').match(/\n/g)?.length ?? 0);
  if (records.length === 0) {
    problems.push({ line: 0, code: 'CSV_EMPTY', message: 'CSV 文件为空：至少需要表头一行（文件,档号,题名,…）' });
    return out;
  }

  // Header: Chinese names or English aliases → column keys.
  const header = records[0];
  const colIndex = new Map<CsvColumn, number>();
  const aliases = new Map<string, CsvColumn>();
  for (const [key, zh] of Object.entries(CSV_COLUMNS) as Array<[CsvColumn, string]>) {
    aliases.set(zh, key);
    aliases.set(key.toLowerCase(), key);
  }
  header.record.forEach((raw, i) => {
    const name = raw.normalize('NFKC').trim();
    const key = aliases.get(name) ?? aliases.get(name.toLowerCase());
    if (!key) {
      if (name === '' || IGNORED.has(name) || IGNORED.has(name.toLowerCase())) return;
      problems.push({
        line: 1,
        column: raw,
        columnNumber: i + 1,
        code: 'CSV_UNKNOWN_COLUMN',
        message: `第 1 行（表头）第 ${i + 1} 列：表头“${raw}”无法识别。可用的列：${Object.values(CSV_COLUMNS).join('、')}（或英文 ${Object.keys(CSV_COLUMNS).join(', ')}）`,
      });
      return;
    }
    if (colIndex.has(key)) {
      problems.push({
        line: 1,
        column: raw,
        columnNumber: i + 1,
        code: 'CSV_DUPLICATE_COLUMN',
        message: `第 1 行（表头）第 ${i + 1} 列：表头“${raw}”与第 ${colIndex.get(key)! + 1} 列“${headerOf[key]}”重复`,
      });
      return;
    }
    colIndex.set(key, i);
    headerOf[key] = raw;
  });
  if (!colIndex.has('file')) {
    problems.push({ line: 1, column: CSV_COLUMNS.file, code: 'CSV_MISSING_COLUMN', message: `第 1 行（表头）：缺少必需的列：文件（或 file）。现有表头：${header.record.join(',') || '（空）'}` });
  }
  if (problems.length) return out;
  out.fileColumn = colIndex.get('file')! + 1;

  const seenFiles = new Map<string, number>();
  const seenCodes = new Map<string, number>();
  for (const rec of records.slice(1)) {
    const line = startLine(rec);
    const cell = (k: CsvColumn) => {
      const i = colIndex.get(k);
      return i === undefined ? '' : (rec.record[i] ?? '').trim();
    };
    if (rec.record.every((c) => c.trim() === '')) continue; // Excel writes ",,,," for rows it thinks are used
    const bad = (column: CsvColumn, code: string, message: string) => {
      const at = { column: headerOf[column], columnNumber: colIndex.get(column)! + 1 };
      problems.push({ line, ...at, code, message: `${where(line, at)}：${message}` });
    };
    if (rec.record.length > header.record.length && rec.record.slice(header.record.length).some((c) => c.trim() !== '')) {
      problems.push({ line, code: 'CSV_EXTRA_CELLS', message: `第 ${line} 行的列数（${rec.record.length}）多于表头（${header.record.length}）：可能有未加引号的逗号` });
    }
    const metadata: IntakeMetadata = {};

    // 文件
    const fileRaw = cell('file');
    let file = '';
    let path = '';
    const f = checkRelativePath(fileRaw);
    if (!f.ok) bad('file', f.code, f.reason);
    else {
      file = f.value;
      path = join(baseDir, ...file.split('/'));
      const prev = seenFiles.get(file);
      if (prev !== undefined) bad('file', 'CSV_DUPLICATE_FILE', `“${file}”已在第 ${prev} 行出现，一个文件只能属于一个条目`);
      else seenFiles.set(file, line);
    }

    // 档号
    const code = cell('archivalCode');
    if (code) {
      const p = parseArchivalCode(code);
      if (!p.ok) bad('archivalCode', 'CSV_BAD_ARCHIVAL_CODE', p.reason);
      else {
        const prev = seenCodes.get(p.value.archivalCode);
        if (prev !== undefined) bad('archivalCode', 'CSV_DUPLICATE_ARCHIVAL_CODE', `档号 ${p.value.archivalCode} 已在第 ${prev} 行使用，档号必须唯一`);
        else seenCodes.set(p.value.archivalCode, line);
        Object.assign(metadata, p.value);
      }
    }

    for (const k of ['title', 'docNumber', 'responsible'] as const) {
      const v = cell(k).normalize('NFC');
      if (!v) continue;
      if (v.length > LIMITS[k]!) bad(k, 'CSV_TOO_LONG', `内容过长（${v.length} 字，上限 ${LIMITS[k]} 字）`);
      // eslint-disable-next-line no-control-regex
      else if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(v)) bad(k, 'CSV_BAD_TEXT', '含有不可见的控制字符');
      else metadata[k] = v;
    }

    const date = cell('date');
    if (date) {
      const d = parseDate(date);
      if (!d) bad('date', 'CSV_BAD_DATE', `日期“${date}”无法识别，应为 2014-03-12、20140312 或 2014年3月12日 这样的有效日期`);
      else metadata.date = d;
    }

    const retention = cell('retention');
    if (retention) {
      const r = parseRetention(retention);
      if (!r) bad('retention', 'CSV_BAD_RETENTION', `保管期限“${retention}”无法识别，应为 永久、定期30年、定期10年（或 Y、D30、D10）`);
      else if (metadata.retention && metadata.retention !== r) bad('retention', 'CSV_RETENTION_MISMATCH', `保管期限“${retention}”与档号中的保管期限“${metadata.retention}”不一致`);
      else metadata.retention = r;
    }

    const cls = cell('classification').normalize('NFKC');
    if (cls) {
      if (!(CLASSIFICATIONS as readonly string[]).includes(cls)) bad('classification', 'CSV_BAD_CLASSIFICATION', `密级“${cls}”无法识别，应为 ${CLASSIFICATIONS.join('、')} 之一`);
      else if (opts.ceiling && classificationRank(cls as Classification) > classificationRank(opts.ceiling)) {
        bad('classification', 'CSV_ABOVE_CEILING', `密级“${cls}”高于本设备允许的最高密级“${opts.ceiling}”，不得导入本网络`);
      } else metadata.classification = cls as Classification;
    }

    const posts = cell('posts');
    if (posts) {
      const list = [
        ...new Set(
          posts
            .normalize('NFC')
            .split(/[;；，、,]/)
            .map((p) => p.trim())
            .filter(Boolean),
        ),
      ];
      const malformed = list.filter((p) => p.length > 64 || /\s/.test(p));
      const unknown = opts.knownPosts ? list.filter((p) => !opts.knownPosts!.has(p)) : [];
      if (list.length === 0) bad('posts', 'CSV_BAD_POSTS', '岗位为空');
      else if (malformed.length) bad('posts', 'CSV_BAD_POSTS', `岗位代码“${malformed[0]}”无效（多个岗位请用 ; 或 ， 分隔）`);
      else if (unknown.length) bad('posts', 'CSV_UNKNOWN_POST', `岗位 ${unknown.join('、')} 不存在`);
      else metadata.posts = list;
    }

    const sharing = cell('sharing').normalize('NFKC');
    if (sharing) {
      const scope = SHARING_SCOPES.find((k) => k === sharing || SHARING_SCOPE_LABELS[k] === sharing);
      if (!scope) bad('sharing', 'CSV_BAD_SHARING', `共享范围“${sharing}”无法识别，应为 ${SHARING_SCOPES.map((k) => SHARING_SCOPE_LABELS[k]).join('、')} 之一`);
      else if (scope !== 'office') metadata.sharing = scope;
    }

    if (f.ok) out.rows.push({ line, file, path, metadata });
  }
  if (out.rows.length === 0 && problems.length === 0) problems.push({ line: 0, code: 'CSV_EMPTY', message: 'CSV 只有表头，没有任何条目' });
  return out;
}

/** "第 3 行“岗位”（第 9 列）": where a spreadsheet user finds the cell. */
function where(line: number, at: { column?: string; columnNumber?: number }): string {
  return `第 ${line} 行${at.column ? `“${at.column}”` : ''}${at.columnNumber ? `（第 ${at.columnNumber} 列）` : ''}`;
}

/**
 * Throw CSV_INVALID listing every problem, one per line (for the CLI and the upload API), or
 * return the rows. The CSV is named by its file name only: an uploaded one sits in the server's
 * own folders, and those paths are nobody's business.
 */
export function requireValidCsv(m: CsvManifest, csvPath = 'CSV'): CsvManifestRow[] {
  if (m.problems.length === 0) return m.rows;
  const csvName = basename(csvPath);
  const shown = m.problems.slice(0, 50).map((p) => p.message);
  if (m.problems.length > 50) shown.push(`……另有 ${m.problems.length - 50} 处问题`);
  throw new ApplianceError(
    'CSV_INVALID',
    `CSV 清单“${csvName}”有 ${m.problems.length} 处问题，未导入任何文件：\n  ${shown.join('\n  ')}`,
    `CSV ${csvName}: ${m.problems.length} problems; nothing imported`,
    {
      status: 400,
      details: { problems: m.problems },
    },
  );
}

/** A relative path inside the CSV's folder: no absolute paths, drive letters, UNC or "..". */
export function checkRelativePath(raw: string): { ok: true; value: string } | { ok: false; code: string; reason: string } {
  const s = raw.normalize('NFC').trim();
  if (!s) return { ok: false, code: 'CSV_MISSING_FILE', reason: '不能为空：请填写扫描文件或页面目录的相对路径' };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) return { ok: false, code: 'CSV_BAD_PATH', reason: `路径“${raw}”含有控制字符` };
  const unified = s.replace(/\\/g, '/');
  if (unified.startsWith('/') || /^[A-Za-z]:/.test(unified) || unified.startsWith('~')) {
    return { ok: false, code: 'CSV_ABSOLUTE_PATH', reason: `“${raw}”是绝对路径；请写相对于 CSV 所在目录的路径` };
  }
  const parts = unified.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return { ok: false, code: 'CSV_PATH_TRAVERSAL', reason: `“${raw}”含有“..”，不得指向 CSV 所在目录之外` };
  if (parts.length === 0) return { ok: false, code: 'CSV_BAD_PATH', reason: `路径“${raw}”无效` };
  return { ok: true, value: parts.join('/') };
}

/** YYYY-MM-DD for 2014-03-12, 2014-3-12, 2014/3/12, 2014.3.12, 20140312, 2014年3月12日; undefined if not a real date. */
export function parseDate(raw: string): string | undefined {
  const s = raw.normalize('NFKC').replace(/\s+/g, '');
  const m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/.exec(s) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(s) ?? /^(\d{4})年(\d{1,2})月(\d{1,2})日?$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (y < 1000 || t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return undefined;
  return `${m[1]}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

const RETENTION_WORDS: Record<string, Retention> = { Y: 'Y', 永久: 'Y', D30: 'D30', 定期30年: 'D30', '30年': 'D30', D10: 'D10', 定期10年: 'D10', '10年': 'D10' };

export function parseRetention(raw: string): Retention | undefined {
  return RETENTION_WORDS[raw.normalize('NFKC').replace(/\s+/g, '').toUpperCase()];
}
