// 文号 brackets as printed: chi_sim's misreadings of 〔 〕 in a document number (measured on the
// generated sets: 档发[2010j 67号, 交字：（2013]24号, 交办〔2013}】91号, 水孙[2023〕7号) are mended, each
// kept character keeps its own box, and text that is not a 文号 — a year in prose, a code with a
// hyphen, a 文号 printed with round brackets — is left as read.
import { describe, expect, it } from 'vitest';
import type { OcrWord } from '../../core/index.ts';
import { mendDocNumbers } from '../../ingest/ocr/doc-number.ts';

/** Words of one-character symbols, each symbol's box at its running index (so a moved box shows). */
function words(...texts: string[]): OcrWord[] {
  let x = 0;
  return texts.map((text) => {
    const symbols = [...text].map((c) => ({ text: c, confidence: 90, box: { x0: x, y0: 0, x1: ++x, y1: 10 } }));
    return { text, confidence: 90, box: { x0: symbols[0].box.x0, y0: 0, x1: x, y1: 10 }, symbols };
  });
}
const text = (ws: OcrWord[]) => ws.map((w) => w.text).join(' ');

describe('文号 brackets', () => {
  it('mends the misread brackets and drops the marks beside them', () => {
    const cases: Array<[string[], string]> = [
      [['档发[2010j', '67号'], '档发〔2010〕 67号'],
      [['交字：（2013]24号'], '交字〔2013〕24号'],
      [['交办〔2013}】91号'], '交办〔2013〕91号'],
      [['水孙[2023〕7号'], '水孙〔2023〕7号'],
      [['交字「[2013]24号。'], '交字〔2013〕24号。'],
      [['交字「.[2013]24号'], '交字〔2013〕24号'],
      [['交办[2013.]', '91号'], '交办〔2013〕 91号'],
      [['档发2010j67号'], '档发2010〕67号'],
      [['根据', '档发[2010l', '67号', '文件'], '根据 档发〔2010〕 67号 文件'],
    ];
    for (const [input, want] of cases) {
      const ws = words(...input);
      expect(mendDocNumbers(ws), input.join(' ')).toBe(1);
      expect(text(ws), input.join(' ')).toBe(want);
      for (const w of ws) expect(w.symbols.map((s) => s.text).join('')).toBe(w.text);
    }
  });

  it('keeps every kept character on its own box, and removes a word left empty', () => {
    const ws = words('交字', '：', '（2013]24号');
    mendDocNumbers(ws);
    // 交0 字1 ：2 （3 2 0 1 3 ]8 2 4 号: the 〔 takes the first mark's place (：), （ goes.
    expect(text(ws)).toBe('交字 〔 2013〕24号');
    expect(ws.flatMap((w) => w.symbols.map((s) => `${s.text}${s.box.x0}`)).join(' ')).toBe('交0 字1 〔2 24 05 16 37 〕8 29 410 号11');
    const alone = words('交字[2013]', '：', '24号');
    mendDocNumbers(alone);
    expect(alone.map((w) => w.text)).toEqual(['交字〔2013〕', '24号']);
  });

  it('leaves what is not a misread 文号 as read', () => {
    for (const input of [['档发〔2010〕67号'], ['市政发（2014）12号'], ['京2013-5号'], ['于2014年12号'], ['共计2013件，其中12号'], ['档号J012-2016-Y-BGS-0193'], ['[2010]', '67号'], ['2010]67号']]) {
      const ws = words(...input);
      const before = text(ws);
      expect(mendDocNumbers(ws), before).toBe(0);
      expect(text(ws)).toBe(before);
    }
  });
});
