import { describe, expect, it } from 'vitest';
import { parseCsvManifest } from '../../ingest/csv-manifest.ts';
import { csvTemplate } from '../../ingest/index.ts';

// The CSV column 共享范围 (联合检索, issue 19): 本单位 / 上级 / 全辖区, empty = 本单位; anything else is a
// problem naming the row and column, and a batch with a problem ingests nothing (requireValidCsv).
describe('CSV column 共享范围', () => {
  const parse = (rows: string[]) => parseCsvManifest(Buffer.from(['文件,题名,岗位,共享范围', ...rows].join('\n')), '/base', { knownPosts: new Set(['ZH']) });

  it('reads 本单位, 上级, 全辖区 (and the English codes); 本单位 and empty leave the item at home', () => {
    const m = parse(['a.tif,甲,ZH,全辖区', 'b.tif,乙,ZH,上级', 'c.tif,丙,ZH,本单位', 'd.tif,丁,ZH,', 'e.tif,戊,ZH,all', 'f.tif,己,ZH, 全辖区 ']);
    expect(m.problems).toEqual([]);
    expect(m.rows.map((r) => r.metadata.sharing)).toEqual(['all', 'parent', undefined, undefined, 'all', 'all']);
  });

  it('a bad value is a clear Chinese problem naming the row and the column', () => {
    const m = parse(['a.tif,甲,ZH,全辖区', 'b.tif,乙,ZH,全国', 'c.tif,丙,ZH,上級']);
    expect(m.problems.map((p) => [p.line, p.column, p.code])).toEqual([
      [3, '共享范围', 'CSV_BAD_SHARING'],
      [4, '共享范围', 'CSV_BAD_SHARING'],
    ]);
    expect(m.problems[0].message).toContain('共享范围“全国”无法识别，应为 本单位、上级、全辖区 之一');
  });

  it('the template carries the column with a valid example', () => {
    const text = csvTemplate()
      .toString('utf8')
      .replace(/^\ufeff/, '');
    expect(text.split('\r\n')[0]).toContain('共享范围');
    const m = parseCsvManifest(csvTemplate(), '/base', {});
    expect(m.problems).toEqual([]);
    expect(m.rows[0].metadata.sharing).toBeUndefined();
  });
});
