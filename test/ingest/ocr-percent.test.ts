// Digits chi_sim reads out of a % sign (measured on the generated sets: 95.4%06。, 100%6，) go; a
// number after a % that goes on, or a % that ends a line, stays as read.
import { describe, expect, it } from 'vitest';
import type { OcrWord } from '../../core/index.ts';
import { dropPercentDigits } from '../../ingest/ocr/percent.ts';

const words = (...texts: string[]): OcrWord[] =>
  texts.map((text) => {
    const symbols = [...text].map((c, i) => ({ text: c, confidence: 90, box: { x0: i, y0: 0, x1: i + 1, y1: 10 } }));
    return { text, confidence: 90, box: { x0: 0, y0: 0, x1: symbols.length, y1: 10 }, symbols };
  });
const text = (ws: OcrWord[]) => ws.map((w) => w.text).join(' ');

describe('digits read out of a % sign', () => {
  it('drops one or two digits after a % before a mark, a character or the line end', () => {
    const cases: Array<[string[], string]> = [
      [['合格率为95.4%06。各级'], '合格率为95.4%。各级'],
      [['办结率达到100%6，群众'], '办结率达到100%，群众'],
      [['完成', '97%6'], '完成 97%'],
      [['占比12％3的'], '占比12％的'],
    ];
    for (const [input, want] of cases) {
      const ws = words(...input);
      dropPercentDigits(ws);
      expect(text(ws)).toBe(want);
      for (const w of ws) expect(w.symbols.map((s) => s.text).join('')).toBe(w.text);
    }
  });

  it('leaves a % followed by a longer number, a decimal, or nothing', () => {
    for (const input of ['增长5%', '5%，', '10%～20%', '5%123', '5%1.5']) {
      const ws = words(input);
      expect(dropPercentDigits(ws)).toBe(0);
      expect(text(ws)).toBe(input);
    }
  });
});
