import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bigramTokens, gramChars, normalizeText, parseQuery } from '../../search/char-pairs.ts';
import { matchPages } from '../../search/page-match.ts';
import { needleOf, occurrences } from '../../search/term-match.ts';
import { highlight, snippet } from '../../search/snippet.ts';
import { accessFilter, filterString } from '../../search/tenant-token.ts';
import { PageTextStore } from '../../search/text-store.ts';
import { PageTextCache } from '../../search/page-cache.ts';

describe('search text handling', () => {
  it('normalises OCR text: no spaces touching Chinese, punctuation as printed, spaces kept between Latin words', () => {
    expect(normalizeText('关 于 加强 机关\u3000节能 ， 2014 年 ＡＢＣ  def\r\n下 一行')).toBe('关于加强机关节能，2014年ABC def\n下一行');
    expect(normalizeText('通知（试行）：“档案”；《规定》。')).toBe('通知（试行）：“档案”；《规定》。');
    expect(gramChars('〔2014〕12号 V3.3')).toEqual([...'201412号v33']);
    expect(bigramTokens(gramChars('简单'))).toHaveLength(1);
    expect(bigramTokens(gramChars('简'))).toEqual([]);
  });

  it('matches text kept as printed the way the index folds it (NFKC, lower case)', () => {
    const pages = [
      { page: 1, text: '第①条　规定，ＡＢＣ档案' },
      { page: 2, text: '各⼀级单位' },
    ];
    expect(matchPages(parseQuery('1条').terms, pages).pages).toEqual([1]);
    expect(matchPages(parseQuery('abc档案').terms, pages).pages).toEqual([1]);
    expect(matchPages(parseQuery('一级').terms, pages).pages).toEqual([2]);
    expect(matchPages(parseQuery('规定,abc').terms, pages).snippet).toContain('规定，');
  });

  it('parses a query into terms of two or more characters, each a phrase of bigram tokens', () => {
    const q = parseQuery('除湿机  年 [2014]12号 除湿机');
    expect(q.terms.map((t) => t.text)).toEqual(['除湿机', '[2014]12号']);
    expect(q.ignored).toEqual(['年']);
    expect(q.terms[0].phrase).toMatch(/^"[a-z]{8} [a-z]{8}"$/);
    expect(parseQuery('〔2014〕12号').terms[0].phrase).toBe(parseQuery('(2014)12号').terms[0].phrase);
  });

  it('escapes everything in snippets but the <mark> it adds', () => {
    const terms = parseQuery('登录 script').terms;
    const s = snippet('前言<script>alert("x")</script> & 登录地址：http://a/?b=1&c=2', terms);
    expect(s.found).toBe(true);
    expect(s.html).toContain('&lt;<mark>script</mark>&gt;');
    expect(s.html).toContain('<mark>登录</mark>');
    expect(s.html.replace(/<\/?mark>/g, '')).not.toMatch(/[<>"]/);
    expect(highlight('<b>登录</b>', terms)).toBe('&lt;b&gt;<mark>登录</mark>&lt;/b&gt;');
    // A term broken by a line break and punctuation is still marked.
    expect(snippet('甲乙丙丁戊己庚辛\n壬癸，子丑寅卯', parseQuery('辛壬癸子').terms).html).toContain('<mark>辛壬癸，子</mark>');
  });

  it('finds matching pages, a term across a page break on both pages', () => {
    const pages = [
      { page: 1, text: '第一页说明库房温度。结尾是档案数' },
      { page: 2, text: '字化建设，除湿机更换。' },
      { page: 3, text: '第三页又有库房温度' },
    ];
    expect(matchPages(parseQuery('库房温度').terms, pages).pages).toEqual([1, 3]);
    const across = matchPages(parseQuery('档案数字化').terms, pages);
    expect(across.pages).toEqual([1, 2]);
    expect(across.snippet).toContain('<mark>档案数字化</mark>');
    expect(matchPages(parseQuery('库房温度 除湿机').terms, pages).pages).toEqual([1, 2, 3]);
    expect(matchPages(parseQuery('温度除湿机').terms, pages).pages).toEqual([]);
    // As the index matches: case, punctuation, spaces and line breaks inside a term do not count.
    const mixed = [
      { page: 2, text: '依据 GB/T\n18894-2016，第 12\n号' },
      { page: 1, text: '无关' },
    ];
    expect(matchPages(parseQuery('gbt188942016').terms, mixed).pages).toEqual([2]);
    expect(matchPages(parseQuery('第12号').terms, mixed).pages).toEqual([2]);
    expect(matchPages(parseQuery('T18894 关第').terms, mixed).pages).toEqual([2]);
  });

  it('finds a term wherever the index would: case, punctuation, astral characters, İ and Σ', () => {
    const at = (text: string, q: string) =>
      occurrences(
        text,
        parseQuery(q).terms.map((t) => needleOf(t.chars)),
      ).map(([a, b]) => text.slice(a, b));
    expect(at('依据GB/T 18894，另见 gb-t18894。', 'gbt18894')).toEqual(['GB/T 18894', 'gb-t18894']);
    expect(at('编制\n办公室；编制办公室', '编制办公室')).toEqual(['编制\n办公室', '编制办公室']);
    expect(at('编制，，办公', '制办')).toEqual(['制，，办']);
    expect(at('编a制', '编制')).toEqual([]); // a letter between is not skipped
    expect(at('姓名：𠀀𠀁先生', '𠀀𠀁先')).toEqual(['𠀀𠀁先']);
    expect(at('İSTANBUL 与 İstanbul', 'i̇stanbul')).toEqual(['İSTANBUL', 'İstanbul']);
    expect(at('ΟΔΟΣ ΟΔΟΣ.', 'ΟΔΟΣ')).toEqual(['ΟΔΟΣ', 'ΟΔΟΣ']);
    expect(snippet('前文 GB/T\n18894 后文', parseQuery('gbt18894').terms).html).toContain('<mark>GB/T 18894</mark>');
  });

  it('builds the access filter with escaped post codes, and none for a viewer without posts', () => {
    expect(filterString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(accessFilter({ posts: ['ZH', 'BGS-KY', 'ZH'], clearance: '内部' })).toBe('posts IN ["BGS-KY", "ZH"] AND classificationRank <= 1');
    expect(accessFilter({ posts: [], clearance: '绝密' })).toBeUndefined();
  });

  it('keeps page texts per item, trusted only whole and for the content hash they were written for', async () => {
    const root = mkdtempSync(join(tmpdir(), 'archive-texts-'));
    try {
      const store = new PageTextStore(root);
      const h1 = 'ab'.repeat(32);
      const h2 = 'cd'.repeat(32);
      const texts = ['第一页：机构编制 𠀀 GB/T 18894', '', '第三页\n第二行'];
      await store.write('J012-2014-Y-BGS-0042', h1, texts);
      expect(store.read('J012-2014-Y-BGS-0042', h1)).toEqual(texts.map((text, i) => ({ page: i + 1, text })));
      expect(store.read('J012-2014-Y-BGS-0042', h2)).toBeUndefined(); // re-indexed since: stale
      expect(store.read('other', h1)).toBeUndefined();
      const file = join(root, readdirSync(root)[0], 'J012-2014-Y-BGS-0042');
      const whole = readFileSync(file);
      const flipped = Buffer.from(whole);
      flipped[flipped.length - 3] ^= 1;
      writeFileSync(file, flipped);
      expect(store.read('J012-2014-Y-BGS-0042', h1)).toBeUndefined(); // CRC
      writeFileSync(file, whole);
      truncateSync(file, whole.length - 2);
      expect(store.read('J012-2014-Y-BGS-0042', h1)).toBeUndefined();
      await store.write('J012-2014-Y-BGS-0042', h2, ['新']);
      await store.write('gone', h1, ['x']);
      // A crash's temp file: removed by the sweep once it is old, with the items not kept.
      const dir = join(root, readdirSync(root)[0]);
      writeFileSync(join(dir, 'x.1-1.tmp'), 'partial');
      writeFileSync(join(dir, 'y.1-2.tmp'), 'partial');
      utimesSync(join(dir, 'y.1-2.tmp'), new Date(0), new Date(0));
      expect(await store.sweep(new Set(['J012-2014-Y-BGS-0042']))).toBe(2);
      expect(store.read('gone', h1)).toBeUndefined();
      expect(store.read('J012-2014-Y-BGS-0042', h2)).toEqual([{ page: 1, text: '新' }]);
      expect(readdirSync(dir)).toContain('x.1-1.tmp');
      await store.remove('J012-2014-Y-BGS-0042');
      expect(store.read('J012-2014-Y-BGS-0042', h2)).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('keeps the page-text cache bounded and keyed by content hash', () => {
    const c = new PageTextCache(100);
    c.set('a', 'h1', [{ page: 1, text: 'x'.repeat(9) }]);
    expect(c.get('a', 'h1')).toBeDefined();
    expect(c.get('a', 'h2')).toBeUndefined();
    for (let i = 0; i < 20; i++) c.set(`i${i}`, 'h', [{ page: 1, text: 'y'.repeat(9) }]);
    expect(c.get('a', 'h1')).toBeUndefined();
    expect(c.get('i19', 'h')).toBeDefined();
  });
});

describe('page texts kept as printed, matched as the index folds them', () => {
  it('finds terms written in compatibility characters (full-width, circled, mathematical letters in surrogate pairs)', () => {
    const at = (text: string, term: string) => occurrences(text, [needleOf(gramChars(term))]);
    expect(at('编号ＡＢ１２号', 'ab12')).toEqual([[2, 6]]);
    expect(at('见①号文件', '1号')).toEqual([[1, 3]]);
    // 𝐀𝐁𝐂 are surrogate pairs: each letter is two code units, and the range covers them whole.
    expect(at('文件𝐀𝐁𝐂', 'abc')).toEqual([[2, 8]]);
    expect(at('档案，管理', '档案管理')).toEqual([[0, 5]]);
    expect(matchPages(parseQuery('ab12').terms, [{ page: 1, text: '编号ＡＢ１２号' }]).pages).toEqual([1]);
  });
});
