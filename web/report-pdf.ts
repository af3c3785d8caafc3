import { readFile } from 'node:fs/promises';
import fontkit from '@pdf-lib/fontkit';
import { PDFDocument, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import { ApplianceError } from '../core/index.ts';

/**
 * Printable reports (四性检测, the audit summary) as PDF, made on the appliance: no browser print
 * dialog, no font from outside. The Chinese font is one Debian ships (fonts-wqy-zenhei, installed
 * by appliance/provision.sh and carried in the offline bundle; Noto CJK where present); only the
 * glyphs a report uses are embedded (a subset: a few KB per report).
 */
export interface CjkFontSource {
  path: string;
  /** The face inside a TrueType collection (.ttc), by PostScript name. */
  face?: string;
}

export const CJK_FONTS: CjkFontSource[] = [
  { path: '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc', face: 'WenQuanYiZenHei' },
  { path: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', face: 'NotoSansCJKsc-Regular' },
  { path: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', face: 'WenQuanYiMicroHei' },
];

export async function loadCjkFont(candidates: CjkFontSource[] = CJK_FONTS): Promise<{ bytes: Uint8Array; source: CjkFontSource }> {
  for (const source of candidates) {
    const bytes = await readFile(source.path).catch(() => undefined);
    if (bytes) return { bytes, source };
  }
  throw new ApplianceError(
    'REPORT_FONT_MISSING',
    `无法生成 PDF 报告：本机缺少中文字体（需要 ${candidates.map((c) => c.path).join(' 或 ')}）。请系统管理员安装 fonts-wqy-zenhei 软件包（离线安装包中已附带）后重试。`,
    `no CJK font for PDF reports (looked for ${candidates.map((c) => c.path).join(', ')}); install fonts-wqy-zenhei`,
    { status: 503 },
  );
}

const A4: [number, number] = [595.28, 841.89];
const MARGIN = 48;
const INK = rgb(0.1, 0.1, 0.1);
const MUTED = rgb(0.4, 0.4, 0.4);
const BAD = rgb(0.7, 0.1, 0.1);

/** A simple flowing document: headings, paragraphs, name/value lists and tables, wrapped per character. */
export class PdfReport {
  private page!: PDFPage;
  private y = 0;
  private constructor(
    private readonly doc: PDFDocument,
    private readonly font: PDFFont,
    private readonly title: string,
  ) {}

  static async create(title: string, fonts?: CjkFontSource[]): Promise<PdfReport> {
    const { bytes, source } = await loadCjkFont(fonts);
    const doc = await PDFDocument.create();
    // pdf-lib hands the bytes to fontkit.create(); for a collection the face must be named.
    const kit = fontkit as unknown as { create(b: Uint8Array, name?: string): unknown };
    doc.registerFontkit({ create: (b: Uint8Array) => kit.create(b, source.face) } as never);
    const font = await doc.embedFont(bytes, { subset: true });
    doc.setTitle(title);
    doc.setCreator('档案检索一体机');
    doc.setProducer('档案检索一体机');
    doc.setLanguage('zh-CN');
    const r = new PdfReport(doc, font, title);
    r.newPage();
    r.text(title, { size: 18 });
    r.y -= 6;
    return r;
  }

  private newPage(): void {
    this.page = this.doc.addPage(A4);
    this.y = A4[1] - MARGIN;
  }

  private ensure(h: number): void {
    if (this.y - h < MARGIN + 20) this.newPage();
  }

  /** Lines of `s` that fit `width` at `size`, broken at any character (Chinese has no spaces). */
  wrap(s: string, size: number, width: number): string[] {
    const out: string[] = [];
    for (const para of s.split('\n')) {
      let line = '';
      for (const ch of para) {
        if (line && this.font.widthOfTextAtSize(line + ch, size) > width) {
          out.push(line);
          line = '';
        }
        line += ch;
      }
      out.push(line);
    }
    return out;
  }

  text(s: string, o: { size?: number; color?: ReturnType<typeof rgb>; indent?: number } = {}): void {
    const size = o.size ?? 10;
    const x = MARGIN + (o.indent ?? 0);
    for (const line of this.wrap(s, size, A4[0] - MARGIN - x)) {
      this.ensure(size * 1.5);
      this.y -= size * 1.5;
      this.page.drawText(line, { x, y: this.y, size, font: this.font, color: o.color ?? INK });
    }
  }

  heading(s: string): void {
    this.ensure(40);
    this.y -= 8;
    this.text(s, { size: 13 });
    this.page.drawLine({ start: { x: MARGIN, y: this.y - 4 }, end: { x: A4[0] - MARGIN, y: this.y - 4 }, thickness: 0.5, color: MUTED });
    this.y -= 6;
  }

  note(s: string): void {
    this.text(s, { size: 9, color: MUTED });
  }

  warn(s: string): void {
    this.text(s, { color: BAD });
  }

  pairs(list: Array<[string, string]>): void {
    const w = Math.max(...list.map(([k]) => this.font.widthOfTextAtSize(`${k}：`, 10)), 40);
    for (const [k, v] of list) {
      const lines = this.wrap(v, 10, A4[0] - 2 * MARGIN - w);
      this.ensure(15);
      this.y -= 15;
      this.page.drawText(`${k}：`, { x: MARGIN, y: this.y, size: 10, font: this.font, color: MUTED });
      lines.forEach((l, i) => {
        if (i) {
          this.ensure(15);
          this.y -= 15;
        }
        this.page.drawText(l, { x: MARGIN + w, y: this.y, size: 10, font: this.font, color: INK });
      });
    }
  }

  /** A table: widths are shares of the line; the header repeats on each new page. */
  table(headers: string[], rows: string[][], shares?: number[]): void {
    const size = 9;
    const lh = size * 1.45;
    const total = A4[0] - 2 * MARGIN;
    const sum = (shares ?? headers.map(() => 1)).reduce((a, b) => a + b, 0);
    const widths = (shares ?? headers.map(() => 1)).map((s) => (s / sum) * total);
    const draw = (cells: string[], head: boolean) => {
      const wrapped = cells.map((c, i) => this.wrap(c, size, widths[i] - 6));
      const h = Math.max(...wrapped.map((l) => l.length)) * lh + 4;
      if (this.y - h < MARGIN + 20) {
        this.newPage();
        if (!head) draw(headers, true);
      }
      let x = MARGIN;
      if (head) this.page.drawRectangle({ x: MARGIN, y: this.y - h, width: total, height: h, color: rgb(0.92, 0.92, 0.92) });
      wrapped.forEach((lines, i) => {
        lines.forEach((l, j) => this.page.drawText(l, { x: x + 3, y: this.y - (j + 1) * lh + 1, size, font: this.font, color: INK }));
        x += widths[i];
      });
      this.y -= h;
      this.page.drawLine({ start: { x: MARGIN, y: this.y }, end: { x: MARGIN + total, y: this.y }, thickness: 0.3, color: MUTED });
    };
    this.ensure(lh * 3);
    this.y -= 4;
    draw(headers, true);
    for (const r of rows) draw(r, false);
  }

  /** Page numbers and the title in each footer, then the bytes. */
  async save(): Promise<Uint8Array> {
    const pages = this.doc.getPages();
    pages.forEach((p, i) => {
      const s = `${this.title}　第 ${i + 1} 页，共 ${pages.length} 页`;
      p.drawText(s, { x: MARGIN, y: MARGIN - 20, size: 8, font: this.font, color: MUTED });
    });
    return this.doc.save();
  }
}
