import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PDFDocument, PDFName, PDFString, StandardFonts, type PDFRef } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ItemStore } from '../../ingest/index.ts';
import { buildSearchablePdf } from '../../ingest/pdf/searchable-pdf.ts';
import type { PageText } from '../../core/item.ts';
import { cleanup, runCli, tempDir } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';

/**
 * Issue 17.11: a PDF that already has a text layer is copied page by page into document.pdf,
 * which staff download. One that carries a script on open, a Launch action, a Link to a URI, an
 * embedded file and a form field must come out with none of them, checked on the stored file
 * with qpdf --json, and still searchable.
 */
const TEXT = 'ARCHIVE SANITISE TEST 2014 BGS';

async function armedPdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const page = doc.addPage([595, 842]);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  page.drawText(TEXT, { x: 72, y: 700, size: 18, font });
  page.drawText('Second line of searchable text 12345', { x: 72, y: 670, size: 14, font });
  const ctx = doc.context;
  const js = ctx.register(ctx.obj({ Type: 'Action', S: 'JavaScript', JS: PDFString.of('app.alert("pwned-by-js")') }));
  doc.catalog.set(PDFName.of('OpenAction'), js);
  doc.catalog.set(PDFName.of('AA'), ctx.obj({ WC: ctx.obj({ S: 'JavaScript', JS: PDFString.of('app.alert("on-close")') }) }));
  await doc.attach(Buffer.from('MZ embedded payload'), 'payload.exe', { mimeType: 'application/octet-stream', description: 'dropper' });
  // A form field (AcroForm + Widget), with XFA for good measure.
  const form = doc.getForm();
  const field = form.createTextField('applicant');
  field.setText('x');
  field.addToPage(page, { x: 72, y: 600, width: 200, height: 20 });
  const launch = ctx.obj({ S: 'Launch', F: PDFString.of('calc.exe'), NewWindow: true });
  page.node.set(PDFName.of('AA'), ctx.obj({ O: launch }));
  const link = ctx.register(ctx.obj({ Type: 'Annot', Subtype: 'Link', Rect: [72, 690, 300, 720], Border: [0, 0, 0], A: ctx.obj({ S: 'URI', URI: PDFString.of('http://evil.example/leak') }) }));
  const launchLink = ctx.register(ctx.obj({ Type: 'Annot', Subtype: 'Link', Rect: [72, 660, 300, 690], A: ctx.obj({ S: 'Launch', F: PDFString.of('/bin/sh') }) }));
  const note = ctx.register(ctx.obj({ Type: 'Annot', Subtype: 'Text', Rect: [400, 700, 420, 720], Contents: PDFString.of('审阅意见'), AA: ctx.obj({ E: js }) }));
  const annots = page.node.Annots();
  for (const r of [link, launchLink, note] as PDFRef[]) annots!.push(r);
  // Document-level JavaScript in the name tree (pdf-lib adds EmbeddedFiles beside it on save).
  doc.catalog.set(PDFName.of('Names'), ctx.obj({ JavaScript: ctx.obj({ Names: [PDFString.of('init'), js] }) }));
  // pdf-lib drops XFA from a form it manages, so the XFA packet goes in after its save.
  const saved = await PDFDocument.load(await doc.save({ useObjectStreams: false }), { updateMetadata: false });
  const acro = saved.catalog.lookup(PDFName.of('AcroForm')) as unknown as { set(k: PDFName, v: unknown): void };
  acro.set(PDFName.of('XFA'), saved.context.register(saved.context.flateStream('<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><script>app.alert(1)</script></xdp:xdp>')));
  return saved.save({ useObjectStreams: false });
}

/** Every object of the file as qpdf sees it, as one string to search. */
function qpdfJson(file: string): string {
  return execFileSync('qpdf', ['--json', '--json-stream-data=inline', file], { maxBuffer: 1 << 28 }).toString('utf8');
}

const ARMED = [
  '/JavaScript',
  '"/JS":',
  '/OpenAction',
  '"/AA":',
  '"/A":',
  '/Launch',
  '/URI',
  '/AcroForm',
  '/XFA',
  '/EmbeddedFile',
  '/EmbeddedFiles',
  '/Filespec',
  '/Widget',
  '/Link',
  'evil.example',
  'pwned-by-js',
  'calc.exe',
];

function expectArmed(json: string, yes: boolean): void {
  for (const k of ARMED) expect(json.includes(k), k).toBe(yes);
}

describe('PDFs from outside are disarmed before they are stored', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('archive-pdfsan-');
  });
  afterAll(async () => {
    await cleanup(dir);
  });

  it('the fixture really is armed (qpdf sees every part), and assembling document.pdf strips them all', async () => {
    const armed = await armedPdf();
    await writeFile(join(dir, 'armed.pdf'), armed);
    expectArmed(qpdfJson(join(dir, 'armed.pdf')), true);
    const text: PageText = { page: 1, width: 1240, height: 1754, dpi: 150, rotation: 0, text: '', confidence: 100, lines: [], source: 'pdf-text' };
    const out = await buildSearchablePdf([{ text, copyOf: { pdf: armed, page: 0 } }]);
    await writeFile(join(dir, 'out.pdf'), out);
    execFileSync('qpdf', ['--check', join(dir, 'out.pdf')]);
    const json = qpdfJson(join(dir, 'out.pdf'));
    expectArmed(json, false);
    expect(json).toContain('/Text'); // a plain comment stays, without its action
    expect(execFileSync('pdftotext', ['-enc', 'UTF-8', join(dir, 'out.pdf'), '-']).toString('utf8')).toContain(TEXT);
  });

  describe('through ingest (real clamd, the archive ingest command)', () => {
    let clamd: TestClamd;
    beforeAll(async () => {
      clamd = await startTestClamd();
    });
    afterAll(async () => {
      await clamd?.stop();
    });

    it('stores a clean document.pdf that is still searchable; the original is kept byte for byte', async () => {
      const data = join(dir, 'data');
      const armed = await armedPdf();
      await writeFile(join(dir, 'armed-in.pdf'), armed);
      const r = await runCli(['ingest', join(dir, 'armed-in.pdf'), '--posts', 'BGS', '--json'], { ARCHIVE_DATA_DIR: data, ARCHIVE_CLAMD: clamd.address, ARCHIVE_MEILI_PORT: '0' });
      expect(r.code, r.err).toBe(0);
      const res = JSON.parse(r.out.trim().split('\n').pop()!) as { items: Array<{ outcome: string; itemId?: string }> };
      expect(res.items).toMatchObject([{ outcome: 'archived' }]);
      const store = await ItemStore.open(data);
      const id = res.items[0].itemId!;
      const pdf = store.documentPath(id);
      execFileSync('qpdf', ['--check', pdf]);
      expectArmed(qpdfJson(pdf), false);
      const text = execFileSync('pdftotext', ['-enc', 'UTF-8', pdf, '-']).toString('utf8');
      expect(text).toContain(TEXT);
      expect(text).toContain('12345');
      // The original stays as received (custody), but it is not what staff are served.
      const meta = (await store.getItem(id))!;
      expect(Buffer.compare(await readFile(await store.originalPath(id, meta.originals[0].name)), Buffer.from(armed))).toBe(0);
    }, 300_000);
  });
});
