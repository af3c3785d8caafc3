import { deflateSync } from 'node:zlib';
import { PDFString, type PDFDocument, type PDFRef } from 'pdf-lib';

/**
 * Tesseract's glyphless TrueType font (pdf.ttf, 572 bytes, Apache License 2.0, from
 * tesseract-ocr/tesseract): one glyph that is never painted, because the text layer is drawn in
 * rendering mode 3 (invisible). Carrying it keeps the PDF self-contained without a CJK font.
 */
const GLYPHLESS_TTF =
  'AAEAAAAKAIAAAwAgT1MvMlbeyJQAAAEoAAAAYGNtYXAACgA0AAABkAAAAB5nbHlmFSJBJAAAAbgAAAAYaGVhZAt48WUAAACsAAAANmhoZWEMAgQCAAAA5AAAACRobXR4BAAAAAAAAYgAAAAIbG9jYQAMAAAAAAGwAAAABm1heHAABAAFAAABCAAAACBuYW1l8usW2gAAAdAAAABLcG9zdAABAAEAAAIcAAAAIAABAAAAAQAAsJRxEF8PPPUEBwgAAAAAAM+a/G4AAAAA1MOn8gAAAAAEAAgAAAAAEAACAAAAAAAAAAEAAAgA//8AAAQAAAAAAAQAAAEAAAAAAAAAAAAAAAAAAAACAAEAAAACAAQAAQAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAwAAAZAABQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAUAAQABAAAAAAAAAAAAAAAAAAAAAAAAAAAAR09PRwBAAAAAAAAB//8AAAABAAGAAAAAAAAAAAAAAAAAAAABAAAAAAAABAAAAAAAAAIAAQAAAAAAFAADAAAAAAAUAAYACgAAAAAAAAAAAAAAAAAMAAAAAQAAAAAEAAgAAAMAADEhESEEAPwACAAAAAADACoAAAADAAAABQAWAAAAAQAAAAAABQALABYAAwABBAkABQAWAAAAVgBlAHIAcwBpAG8AbgAgADEALgAwVmVyc2lvbiAxLjAAAAEAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAA=';

/** Glyph box in text space units (1/1000 em): what viewers and pdftotext take as a character's box. */
export const ASCENT = 880;
export const DESCENT = -120;

/**
 * A Type0 font with Identity-H encoding: every 2-byte code is one UTF-16 code unit, the CID is the
 * code, CIDToGIDMap sends every CID to the one empty glyph, each glyph is 1 em wide, and an identity
 * ToUnicode map makes every code extract as itself — so any Chinese text is selectable and
 * searchable without embedding a large CJK font.
 */
export function embedGlyphlessFont(doc: PDFDocument): PDFRef {
  const ctx = doc.context;
  const fontFile = ctx.flateStream(Buffer.from(GLYPHLESS_TTF, 'base64'), { Length1: 572 });
  const cidToGid = new Uint8Array(65536 * 2);
  for (let i = 0; i < 65536; i++) cidToGid[i * 2 + 1] = 1;
  const cidToGidMap = ctx.stream(deflateSync(cidToGid), { Filter: 'FlateDecode' });
  const toUnicode = ctx.flateStream(
    [
      '/CIDInit /ProcSet findresource begin',
      '12 dict begin',
      'begincmap',
      '/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def',
      '/CMapName /Adobe-Identity-UCS def',
      '/CMapType 2 def',
      '1 begincodespacerange',
      '<0000> <FFFF>',
      'endcodespacerange',
      '1 beginbfrange',
      '<0000> <FFFF> <0000>',
      'endbfrange',
      'endcmap',
      'CMapName currentdict /CMap defineresource pop',
      'end',
      'end',
    ].join('\n'),
  );
  const descriptor = ctx.obj({
    Type: 'FontDescriptor',
    FontName: 'GlyphLessFont',
    Flags: 5,
    FontBBox: [0, DESCENT, 1000, ASCENT],
    ItalicAngle: 0,
    Ascent: ASCENT,
    Descent: DESCENT,
    CapHeight: ASCENT,
    StemV: 80,
    FontFile2: ctx.register(fontFile),
  });
  const cidFont = ctx.obj({
    Type: 'Font',
    Subtype: 'CIDFontType2',
    BaseFont: 'GlyphLessFont',
    CIDSystemInfo: ctx.obj({ Registry: PDFString.of('Adobe'), Ordering: PDFString.of('Identity'), Supplement: 0 }),
    FontDescriptor: ctx.register(descriptor),
    DW: 1000,
    CIDToGIDMap: ctx.register(cidToGidMap),
  });
  const type0 = ctx.obj({
    Type: 'Font',
    Subtype: 'Type0',
    BaseFont: 'GlyphLessFont',
    Encoding: 'Identity-H',
    DescendantFonts: [ctx.register(cidFont)],
    ToUnicode: ctx.register(toUnicode),
  });
  return ctx.register(type0);
}
