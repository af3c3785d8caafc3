import type Tesseract from 'tesseract.js';
import type { TessPage } from './pool.ts';

type TLine = Tesseract.Line;

/**
 * A table read row by row. Tesseract's automatic layout (page segmentation 3) cuts a table whose
 * columns are separated by clean white gaps into one block per column and reads the blocks one
 * after the other: every 序号, then every 姓名, … — each cell is read, but the rows are lost (a
 * name list's row "3 郝丹 科员 1971.12 18938839034" comes back as five lines pages apart). Measured
 * on the generated set's name lists, a page read that way scored 30-65% CER against the rows as
 * printed, and despeckling made it more likely (the specks in the gaps had held the rows together).
 *
 * So lines that sit on the same printed row (in different blocks, or side by side in one) (their boxes overlap by most of
 * the smaller one's height, side by side) are joined into one line, left to right, and the blocks
 * taking part are read as one, top to bottom. Only table-like rows are joined: at least one of the
 * two pieces is short (a cell, not a line of prose), and at least MIN_ROWS rows must join (a page
 * number level with a line of text is no table). Two columns of prose stay as they were read.
 * Changes the page in place; returns the number of rows joined.
 */
export function joinTableRows(page: TessPage): number {
  const blocks = page.blocks ?? [];
  const items: Array<{ line: TLine; block: number; order: number }> = [];
  blocks.forEach((b, bi) => b.paragraphs.forEach((p) => p.lines.forEach((line) => items.push({ line, block: bi, order: items.length }))));
  if (items.length < 2 * MIN_ROWS) return 0;
  const parent = items.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  let pairs = 0;
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const a = items[i];
      const b = items[j];
      if (!sameRow(a.line, b.line) || !(isCell(a.line) || isCell(b.line))) continue;
      if (find(i) !== find(j)) {
        parent[Math.max(find(i), find(j))] = Math.min(find(i), find(j));
        pairs++;
      }
    }
  }
  const rows = new Map<number, number[]>();
  items.forEach((_, i) => {
    const r = find(i);
    rows.set(r, [...(rows.get(r) ?? []), i]);
  });
  const joined = [...rows.values()].filter((m) => m.length > 1);
  if (joined.length < MIN_ROWS || !pairs) return 0;
  // The blocks that hold a joined row become one block (at the first of them), read top to bottom.
  const tableBlocks = new Set(joined.flat().map((i) => items[i].block));
  const first = Math.min(...tableBlocks);
  const lines: TLine[] = [];
  for (const members of rows.values()) {
    if (!tableBlocks.has(items[members[0]].block) && members.length === 1) continue;
    const parts = members.map((i) => items[i].line).sort((x, y) => x.bbox.x0 - y.bbox.x0);
    lines.push(parts.length === 1 ? parts[0] : joinLines(parts));
  }
  lines.sort((x, y) => (x.bbox.y0 + x.bbox.y1) / 2 - (y.bbox.y0 + y.bbox.y1) / 2);
  const block = blocks[first];
  block.paragraphs = [{ ...block.paragraphs[0], lines, text: lines.map((l) => l.text).join('') }];
  page.blocks = blocks.filter((_, i) => i === first || !tableBlocks.has(i));
  return joined.length;
}

/** Rows joined on a page before it counts as a table. */
export const MIN_ROWS = 3;

/** A cell, not a line of prose: at most this many characters. */
const CELL_CHARS = 12;

function chars(l: TLine): number {
  return l.words.reduce((n, w) => n + [...w.text.replace(/\s+/gu, '')].length, 0);
}

function isCell(l: TLine): boolean {
  return chars(l) <= CELL_CHARS;
}

function sameRow(a: TLine, b: TLine): boolean {
  const ha = a.bbox.y1 - a.bbox.y0;
  const hb = b.bbox.y1 - b.bbox.y0;
  const overlap = Math.min(a.bbox.y1, b.bbox.y1) - Math.max(a.bbox.y0, b.bbox.y0);
  const apart = a.bbox.x1 <= b.bbox.x0 + 2 || b.bbox.x1 <= a.bbox.x0 + 2;
  return apart && overlap >= 0.6 * Math.min(ha, hb);
}

function joinLines(parts: TLine[]): TLine {
  const n = parts.map(chars);
  const total = n.reduce((a, b) => a + b, 0) || 1;
  return {
    ...parts[0],
    words: parts.flatMap((p) => p.words),
    text: parts.map((p) => p.text.trim()).join(' '),
    confidence: parts.reduce((s, p, i) => s + p.confidence * n[i], 0) / total,
    bbox: {
      x0: Math.min(...parts.map((p) => p.bbox.x0)),
      y0: Math.min(...parts.map((p) => p.bbox.y0)),
      x1: Math.max(...parts.map((p) => p.bbox.x1)),
      y1: Math.max(...parts.map((p) => p.bbox.y1)),
    },
  };
}
