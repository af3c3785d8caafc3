import { PDFArray, PDFDict, PDFName, PDFRef, PDFStream, type PDFDocument, type PDFObject } from 'pdf-lib';

/**
 * PDFs from outside are disarmed before they are stored: a page that already
 * carries text is copied as it is into document.pdf, which is what staff download, so whatever
 * acts in it must go — scripts, actions run on open or on any event, links that launch programs
 * or open addresses, annotations that act, forms (AcroForm, XFA) and embedded files. What is
 * shown and searched stays: page content streams, fonts, images and the text layer.
 *
 * Done on the output document as a whole (not only the catalog: copied pages bring their own
 * annotations and /AA), then every object no longer reachable from the trailer is dropped, so a
 * script or an attachment cut loose is not left lying in the file either.
 */

/** Annotations that do something when clicked, hovered or shown; markup (comments, highlights) stays. */
const ACTING_ANNOTATIONS = new Set(['Link', 'Widget', 'Screen', 'RichMedia', 'Movie', 'Sound', 'FileAttachment', '3D', 'Projection', 'PrinterMark', 'TrapNet', 'Watermark']);

/** Keys that carry scripts, event actions, forms or embedded files, wherever they appear. */
const DROP_KEYS = [
  'JS',
  'JavaScript',
  'AA',
  'OpenAction',
  'AcroForm',
  'XFA',
  'EmbeddedFiles',
  'EmbeddedFile',
  'EF',
  'RichMediaContent',
  'RichMediaSettings',
  'URI',
  'Launch',
  'SubmitForm',
  'ImportData',
];

/** Catalog entries of no use to a reader of an archived copy and able to act or hide content. */
const CATALOG_DROP = ['Names', 'Dests', 'Outlines', 'Collection', 'Perms', 'Threads', 'SpiderInfo', 'Requirements', 'Legal'];

export interface SanitiseReport {
  /** What was removed, by kind, for the item's record. */
  removed: Record<string, number>;
}

export function sanitisePdf(doc: PDFDocument): SanitiseReport {
  const ctx = doc.context;
  const removed: Record<string, number> = {};
  const count = (what: string) => (removed[what] = (removed[what] ?? 0) + 1);
  const resolve = (o: PDFObject | undefined): PDFObject | undefined => (o instanceof PDFRef ? ctx.lookup(o) : o);

  const catalog = doc.catalog;
  for (const k of CATALOG_DROP) if (catalog.has(PDFName.of(k))) (catalog.delete(PDFName.of(k)), count(k));

  // Pages: acting annotations out; what remains keeps no action (the walk below).
  for (const page of doc.getPages()) {
    const annots = resolve(page.node.get(PDFName.of('Annots')));
    if (!(annots instanceof PDFArray)) continue;
    const kept: PDFObject[] = [];
    for (const a of annots.asArray()) {
      const d = resolve(a);
      const sub = d instanceof PDFDict ? resolve(d.get(PDFName.of('Subtype'))) : undefined;
      const name = sub instanceof PDFName ? sub.decodeText() : '';
      if (!(d instanceof PDFDict) || ACTING_ANNOTATIONS.has(name)) count(`annotation:${name || '?'}`);
      else kept.push(a);
    }
    if (kept.length) page.node.set(PDFName.of('Annots'), ctx.obj(kept));
    else page.node.delete(PDFName.of('Annots'));
  }

  // Every dictionary in the file: no script, no event action, no action of any kind (an action is
  // a dictionary with /S: GoTo to a page is harmless, but an archived copy needs none), no form,
  // no embedded file.
  const disarm = (d: PDFDict) => {
    for (const k of DROP_KEYS) if (d.has(PDFName.of(k))) (d.delete(PDFName.of(k)), count(k));
    for (const k of ['A', 'Next']) {
      const v = resolve(d.get(PDFName.of(k)));
      if (v instanceof PDFDict && v.has(PDFName.of('S'))) (d.delete(PDFName.of(k)), count(`action:${k}`));
    }
    const type = resolve(d.get(PDFName.of('Type')));
    if (type instanceof PDFName && ['Filespec', 'EmbeddedFile', 'Action'].includes(type.decodeText())) {
      for (const [key] of d.entries()) d.delete(key);
      count(type.decodeText());
    }
  };
  for (const [, obj] of ctx.enumerateIndirectObjects()) {
    if (obj instanceof PDFDict) disarm(obj);
    else if (obj instanceof PDFStream) disarm(obj.dict);
  }
  const trailer = ctx.trailerInfo;
  if (trailer.Root) {
    const root = resolve(trailer.Root);
    if (root instanceof PDFDict) disarm(root);
  }

  // Drop every object not reachable from the trailer (cut-loose scripts, files, fields).
  const reached = new Set<string>();
  const walk = (o: PDFObject | undefined): void => {
    if (!o) return;
    if (o instanceof PDFRef) {
      const key = o.toString();
      if (reached.has(key)) return;
      reached.add(key);
      walk(ctx.lookup(o));
    } else if (o instanceof PDFDict) for (const [, v] of o.entries()) walk(v);
    else if (o instanceof PDFArray) for (const v of o.asArray()) walk(v);
    else if (o instanceof PDFStream) walk(o.dict);
  };
  walk(trailer.Root);
  walk(trailer.Info);
  for (const [ref] of ctx.enumerateIndirectObjects()) {
    if (!reached.has(ref.toString())) {
      ctx.delete(ref);
      count('unreachable');
    }
  }
  return { removed };
}
