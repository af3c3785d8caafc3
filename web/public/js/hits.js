// Where the searched words sit on the scan: OCR symbols in reading order, matched against the
// terms the way the index matches (NFKC, lower case, letters and digits only: punctuation and line
// breaks between a term's characters do not count), merged per line.

const KEPT = /[\p{L}\p{N}]/u;

export function norm(s) {
  return (s ?? '').normalize('NFKC').replace(/\s+/g, '').toLowerCase();
}

/** Every character of the page with the box of the OCR symbol that holds it. */
function pageChars(page) {
  const chars = [];
  (page.lines ?? []).forEach((line, li) => {
    for (const w of line.words ?? []) {
      const syms = w.symbols?.length ? w.symbols : [{ text: w.text, box: w.box }];
      for (const s of syms) for (const ch of norm(s.text)) if (KEPT.test(ch)) chars.push({ ch, box: s.box, line: li });
    }
  });
  return chars;
}

/** Boxes (image pixels) to outline for the terms on this page: one per term occurrence per line. */
export function hitBoxes(page, terms) {
  const chars = pageChars(page);
  const out = [];
  for (const term of new Set(terms.map((t) => [...norm(t)].filter((c) => KEPT.test(c)).join('')).filter(Boolean))) {
    const want = [...term];
    for (let i = 0; i + want.length <= chars.length; i++) {
      let ok = true;
      for (let j = 0; j < want.length && ok; j++) ok = chars[i + j].ch === want[j];
      if (!ok) continue;
      let cur;
      for (let j = 0; j < want.length; j++) {
        const c = chars[i + j];
        if (cur && cur.line === c.line) {
          cur.x0 = Math.min(cur.x0, c.box.x0);
          cur.y0 = Math.min(cur.y0, c.box.y0);
          cur.x1 = Math.max(cur.x1, c.box.x1);
          cur.y1 = Math.max(cur.y1, c.box.y1);
        } else {
          cur = { ...c.box, line: c.line, term };
          out.push(cur);
        }
      }
      i += want.length - 1;
    }
  }
  return out;
}

/** Terms of a query string the way a person typed them: words split on spaces, quotes dropped. */
export function termsOf(q) {
  return (q ?? '')
    .replace(/["“”]/g, ' ')
    .split(/[\s,，]+/)
    .map((s) => s.replace(/^-/, ''))
    .filter(Boolean);
}
