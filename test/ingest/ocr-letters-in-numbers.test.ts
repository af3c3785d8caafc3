// Digits the recogniser read as letters (measured on the generated sets: o8o-7774026 for a
// telephone number, 内存o各级 for 内存。各级), and 0 read for O in a word of capitals (0FD), are mended in its reading, and only there: words
// with other letters, short codes and a PDF's own text stay as they are.
import { describe, expect, it } from 'vitest';
import { asPrintedChars, lettersInNumbers } from '../../ingest/ocr/as-printed.ts';
import { normaliseLine } from '../../ingest/ocr/tidy-text.ts';

const mend = (s: string) => lettersInNumbers(asPrintedChars([...s])).join('');

describe('digits read as letters', () => {
  it('mends o O l I inside a number, a lone o between Chinese characters, 〇 between numerals', () => {
    expect(mend('30彭洋工程师1969.11o8o-7774026')).toBe('30彭洋工程师1969.11080-7774026');
    expect(mend('电话0851-874OOOl')).toBe('电话0851-8740001');
    expect(mend('10卢华会计i977.01')).toBe('10卢华会计1977.01');
    expect(mend('为42核CPU、64GB内存o各级各部门')).toBe('为42核CPU、64GB内存。各级各部门');
    expect(mend('二o一三年')).toBe('二〇一三年');
    expect(mend('支持PDF、0FD和TIFF')).toBe('支持PDF、OFD和TIFF');
    expect(mend('支持PDF、O0FD和')).toBe('支持PDF、OOFD和');
  });

  it('leaves words with other letters, short codes and prose alone', () => {
    for (const s of ['V4.8版', 'CPU I5', 'Hello world', 'lo9', 'gov.cn', 'OFD', 'Oo', 'A0纸', 'MP3', 'B2B', '2020年']) expect(mend(s)).toBe(s);
  });

  it('is not applied to text that was typed (a PDF page with text goes through normaliseLine only)', () => {
    expect(normaliseLine('电话 0851-874OOOl')).toBe('电话0851-874OOOl');
  });
});
