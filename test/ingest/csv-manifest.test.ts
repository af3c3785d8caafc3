import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceError } from '../../core/errors.ts';
import { csvTemplate } from '../../ingest/index.ts';
import { parseCsvManifest, parseDate, parseRetention, readCsvManifest, requireValidCsv, checkRelativePath, CSV_COLUMNS } from '../../ingest/csv-manifest.ts';
import { cleanup, tempDir } from '../support/appliance.ts';

const HEADER = '文件,档号,题名,文号,责任者,日期,保管期限,密级,岗位';

describe('CSV manifest', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('csv-');
    await mkdir(join(dir, 'scans', '2014-会议'), { recursive: true });
    await writeFile(join(dir, 'scans', 'a.tif'), 'x');
    await writeFile(join(dir, 'scans', 'b.pdf'), 'x');
    await writeFile(join(dir, 'scans', '2014-会议', '001.jpg'), 'x');
    await writeFile(join(dir, '通知.tif'), 'x');
  });
  afterAll(() => cleanup(dir));

  const write = async (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    await writeFile(p, content);
    return p;
  };

  it('reads a UTF-8 CSV with the Chinese headers: files, folders, every field normalised', async () => {
    const csv = [
      HEADER,
      'scans/a.tif,J012-2014-Y-BGS-0042,关于机构编制的通知,呼编办发〔2014〕12号,呼和浩特市机构编制委员会办公室,2014-03-12,永久,内部,BGS-KY;ZH',
      'scans\\2014-会议,j012-2014-d30-bgs-7,"会议纪要，第一次",,办公室,2014年3月5日,定期30年,公开,BGS-KY，ZH；XX',
      './通知.tif,,无档号的件,,,20140101,,,',
    ].join('\r\n');
    const m = await readCsvManifest(await write('ok.csv', csv));
    expect(m.problems).toEqual([]);
    expect(m.encoding).toBe('utf-8');
    expect(m.rows.map((r) => [r.line, r.file, r.kind])).toEqual([
      [2, 'scans/a.tif', 'file'],
      [3, 'scans/2014-会议', 'folder'],
      [4, '通知.tif', 'file'],
    ]);
    expect(m.rows[0].path).toBe(join(dir, 'scans', 'a.tif'));
    expect(m.rows[0].metadata).toEqual({
      archivalCode: 'J012-2014-Y-BGS-0042',
      fonds: 'J012',
      year: 2014,
      retention: 'Y',
      department: 'BGS',
      itemNo: 42,
      title: '关于机构编制的通知',
      docNumber: '呼编办发〔2014〕12号',
      responsible: '呼和浩特市机构编制委员会办公室',
      date: '2014-03-12',
      classification: '内部',
      posts: ['BGS-KY', 'ZH'],
    });
    expect(m.rows[1].metadata).toMatchObject({
      archivalCode: 'J012-2014-D30-BGS-0007',
      title: '会议纪要，第一次',
      date: '2014-03-05',
      retention: 'D30',
      classification: '公开',
      posts: ['BGS-KY', 'ZH', 'XX'],
    });
    expect(m.rows[2].metadata).toEqual({ title: '无档号的件', date: '2014-01-01' });
    expect(requireValidCsv(m)).toBe(m.rows);
  });

  it("detects GB18030 (Excel's default here) and a UTF-8 BOM, and accepts English headers in any order", async () => {
    const csv = `${HEADER}\nscans/a.tif,J012-2014-D10-BGS-0001,关于“三定”规定的通知,,,2014/3/12,10年,内部,ZH\n`;
    const gb = iconv.encode(csv, 'gb18030');
    expect(gb.equals(Buffer.from(csv))).toBe(false);
    const m = await readCsvManifest(await write('gb.csv', gb));
    expect(m.encoding).toBe('gb18030');
    expect(m.problems).toEqual([]);
    expect(m.rows[0].metadata).toMatchObject({ title: '关于“三定”规定的通知', date: '2014-03-12', posts: ['ZH'] });
    const bom = await readCsvManifest(await write('bom.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Title,FILE,posts\n标题,scans/b.pdf,ZH\n')])));
    expect(bom.problems).toEqual([]);
    expect(bom.rows[0]).toMatchObject({ line: 2, file: 'scans/b.pdf', metadata: { title: '标题', posts: ['ZH'] } });
  });

  it('reports every bad row with its line, column and a Chinese message, and nothing else', async () => {
    const csv = [
      HEADER,
      'scans/a.tif,J012-2014-Y-BGS-0001,好的一行,,,2014-03-12,永久,内部,ZH', // 2 ok
      'scans/b.pdf,J012-2014-Y-BGS-1,档号重复,,,2014-02-30,永久,特密,ZH', // 3: dup code, bad date, bad class
      '../etc/passwd,,,,,,,,', // 4: traversal
      '/etc/passwd,,,,,,,,', // 5: absolute
      'C:\\scans\\x.tif,,,,,,,,', // 6: drive letter
      ',,没有文件,,,,,,', // 7: empty file
      'scans/missing.tif,J012-2014-Q-BGS-1,,,,,长期,内部,ZH', // 8: bad code, bad retention, missing file
      'scans/a.tif,,同一文件,,,,,,', // 9: duplicate file
      '"scans/2014-会议",J012-2014-D10-BGS-0009,,,,,永久,,ZH', // 10: retention contradicts code
      '"多行',
      '题名",,,,,,,,', // 11-12: a quoted cell over two lines; a line break is no file name
    ].join('\n');
    const m = await readCsvManifest(await write('bad.csv', csv));
    const got = m.problems.map((p) => [p.line, p.column, p.code]);
    expect(got).toEqual([
      [3, '档号', 'CSV_DUPLICATE_ARCHIVAL_CODE'],
      [3, '日期', 'CSV_BAD_DATE'],
      [3, '密级', 'CSV_BAD_CLASSIFICATION'],
      [4, '文件', 'CSV_PATH_TRAVERSAL'],
      [5, '文件', 'CSV_ABSOLUTE_PATH'],
      [6, '文件', 'CSV_ABSOLUTE_PATH'],
      [7, '文件', 'CSV_MISSING_FILE'],
      [8, '档号', 'CSV_BAD_ARCHIVAL_CODE'],
      [8, '保管期限', 'CSV_BAD_RETENTION'],
      [8, '文件', 'CSV_FILE_NOT_FOUND'],
      [9, '文件', 'CSV_DUPLICATE_FILE'],
      [10, '保管期限', 'CSV_RETENTION_MISMATCH'],
      [11, '文件', 'CSV_BAD_PATH'],
    ]);
    for (const p of m.problems) expect(p.message).toMatch(new RegExp(`^第 ${p.line} 行`));
    expect(m.problems[0].message).toContain('第 2 行');
    try {
      requireValidCsv(m, 'bad.csv');
      throw new Error('should throw');
    } catch (e) {
      expect(e).toBeInstanceOf(ApplianceError);
      expect((e as ApplianceError).code).toBe('CSV_INVALID');
      expect((e as ApplianceError).zh).toContain('13 处问题');
      expect((e as ApplianceError).details?.problems).toHaveLength(13);
    }
  });

  it('names missing, unknown and duplicate columns', async () => {
    const missing = await readCsvManifest(await write('nofile.csv', '档号,题名\nJ012-2014-Y-BGS-0001,x\n'));
    expect(missing.problems).toHaveLength(1);
    expect(missing.problems[0]).toMatchObject({ line: 1, code: 'CSV_MISSING_COLUMN' });
    expect(missing.problems[0].message).toContain('文件');
    const unknown = await readCsvManifest(await write('typo.csv', '文件,提名,序号,备注\nscans/a.tif,x,1,\n'));
    expect(unknown.problems.map((p) => [p.code, p.column])).toEqual([['CSV_UNKNOWN_COLUMN', '提名']]);
    const dup = await readCsvManifest(await write('dup.csv', '文件,title,题名\nscans/a.tif,x,y\n'));
    expect(dup.problems.map((p) => p.code)).toEqual(['CSV_DUPLICATE_COLUMN']);
    expect((await readCsvManifest(await write('empty.csv', ''))).problems[0].code).toBe('CSV_EMPTY');
    expect((await readCsvManifest(await write('header-only.csv', `${HEADER}\n,,,,,,,,\n`))).problems[0].code).toBe('CSV_EMPTY');
  });

  it('refuses links that lead outside the CSV folder, unclosed quotes, UTF-16 and a missing CSV', async () => {
    await symlink('/etc/hostname', join(dir, 'scans', 'escape.tif')).catch(() => undefined);
    const m = await readCsvManifest(await write('link.csv', '文件\nscans/escape.tif\n'));
    expect(m.problems.map((p) => p.code)).toEqual(['LINK_REFUSED']);
    const q = await readCsvManifest(await write('quote.csv', '文件,题名\nscans/a.tif,"未闭合\n'));
    expect(q.problems[0].code).toBe('CSV_SYNTAX');
    await expect(readCsvManifest(await write('u16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('文件\n', 'utf16le')])))).rejects.toMatchObject({ code: 'CSV_ENCODING' });
    await expect(readCsvManifest(join(dir, 'nope.csv'))).rejects.toMatchObject({ code: 'CSV_NOT_FOUND' });
  });

  it('checks ceiling and known posts when asked, and extra cells from unquoted commas', () => {
    const csv = Buffer.from(`${HEADER}\na.tif,,,,,,,秘密,ZH\nb.tif,,,,,,,内部,ZH;NOPE\nc.tif,,题名,有,逗号,,,,,ZH\n`);
    const m = parseCsvManifest(csv, '/base', { ceiling: '内部', knownPosts: new Set(['ZH']) });
    expect(m.problems.map((p) => [p.line, p.code])).toEqual([
      [2, 'CSV_ABOVE_CEILING'],
      [3, 'CSV_UNKNOWN_POST'],
      [4, 'CSV_EXTRA_CELLS'],
    ]);
  });

  it('parses dates, retention words and relative paths strictly', () => {
    expect(['2014-03-12', '20140312', '2014年3月12日', '2014/3/12', '2014.03.12', '２０１４－０３－１２'].map(parseDate)).toEqual(Array(6).fill('2014-03-12'));
    for (const bad of ['2014-02-30', '2014-13-01', '12/03/2014', '2014年3月', '41710', '2014-3-12x']) expect(parseDate(bad), bad).toBeUndefined();
    expect(['Y', 'y', '永久', 'D30', '定期30年', '30年', 'D10', '定期10年', '10年'].map(parseRetention)).toEqual(['Y', 'Y', 'Y', 'D30', 'D30', 'D30', 'D10', 'D10', 'D10']);
    expect(parseRetention('长期')).toBeUndefined();
    expect(checkRelativePath('a//./b\\c.tif')).toEqual({ ok: true, value: 'a/b/c.tif' });
    for (const bad of ['..', 'a/../../b', '\\\\server\\share\\x', '~/x', 'a/..\\..\\b']) expect(checkRelativePath(bad).ok, bad).toBe(false);
  });

  it("reports one problem per line with line and column, and never the server's path", async () => {
    const upload = join(dir, 'run', 'uploads', 'mq3x-5f2a');
    await mkdir(upload, { recursive: true });
    await writeFile(join(upload, 'a.tif'), 'x');
    const csv = `${HEADER}\na.tif,,,,,,,内部,NOPE\nb.tif,,,,,,,内部,NOPE;ZH\n`;
    await writeFile(join(upload, 'items.csv'), csv);
    const m = await readCsvManifest(join(upload, 'items.csv'), { knownPosts: new Set(['ZH']) });
    expect(m.problems.map((p) => [p.line, p.column, p.columnNumber, p.code])).toEqual([
      [2, '岗位', 9, 'CSV_UNKNOWN_POST'],
      [3, '岗位', 9, 'CSV_UNKNOWN_POST'],
      [3, '文件', 1, 'CSV_FILE_NOT_FOUND'],
    ]);
    expect(m.problems[0].message).toBe('第 2 行“岗位”（第 9 列）：岗位 NOPE 不存在');
    expect(m.problems[2].message).toBe('第 3 行“文件”（第 1 列）：找不到“b.tif”（相对于 CSV 所在目录）');
    let err: ApplianceError | undefined;
    try {
      requireValidCsv(m, join(upload, 'items.csv'));
    } catch (e) {
      err = e as ApplianceError;
    }
    expect(err?.code).toBe('CSV_INVALID');
    // The heading names the CSV by its file name; each problem is a line of its own.
    const lines = err!.zh.split('\n');
    expect(lines[0]).toBe('CSV 清单“items.csv”有 3 处问题，未导入任何文件：');
    expect(lines.slice(1).map((l) => l.trim())).toEqual(m.problems.map((p) => p.message));
    // No server path anywhere in what a client receives.
    const body = JSON.stringify(err!.toJSON());
    expect(body).not.toContain(dir);
    expect(body).not.toContain('uploads');
    await expect(readCsvManifest(join(upload, 'missing.csv'))).rejects.toSatisfy((e: ApplianceError) => !JSON.stringify(e.toJSON()).includes(dir));
    // Header problems say where too.
    const typo = await readCsvManifest(await write('typo2.csv', '文件,提名\nscans/a.tif,x\n'));
    expect(typo.problems[0]).toMatchObject({ line: 1, column: '提名', columnNumber: 2 });
    expect(typo.problems[0].message).toMatch(/^第 1 行（表头）第 2 列：表头“提名”无法识别/);
  });

  it("offers a template (UTF-8 with BOM, CRLF) with the README's headers and one example row that passes the check", () => {
    const bytes = csvTemplate();
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.subarray(3).toString('utf8');
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(Object.values(CSV_COLUMNS).join(','));
    expect(lines[0]).toBe(`${HEADER},共享范围`);
    expect(lines.filter(Boolean)).toHaveLength(2);
    const m = parseCsvManifest(bytes, '/base', { ceiling: '内部', knownPosts: new Set(['BGS', 'ZH']) });
    expect(m.problems).toEqual([]);
    expect(m.encoding).toBe('utf-8');
    expect(m.rows).toHaveLength(1);
    expect(m.rows[0].metadata).toMatchObject({
      archivalCode: 'J012-2014-Y-BGS-0001',
      title: '关于召开档案工作会议的通知',
      date: '2014-03-12',
      retention: 'Y',
      classification: '内部',
      posts: ['BGS', 'ZH'],
    });
  });
});
