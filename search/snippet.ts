import { occurrences } from './term-match.ts';
import { normalizeText, type QueryTerm } from './char-pairs.ts';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Occurrences of the terms in a text, merged: term-match.ts matches as the index does. */
function ranges(text: string, terms: QueryTerm[], opts: { first?: boolean } = {}): Array<[number, number]> {
  return occurrences(
    text,
    terms.map((t) => t.needle),
    opts,
  );
}

function render(text: string, from: number, to: number, marks: Array<[number, number]>): string {
  let html = '';
  let at = from;
  for (const [a, b] of marks) {
    const s = Math.max(a, from);
    const e = Math.min(b, to);
    if (e <= s) continue;
    html += escapeHtml(text.slice(at, s)) + '<mark>' + escapeHtml(text.slice(s, e)) + '</mark>';
    at = e;
  }
  return html + escapeHtml(text.slice(at, to));
}

const LATIN_OR_DIGIT = /[\p{Script=Latin}\p{N}]/u;

/** Text as one line for display: a line break is a space between two Latin words or numbers, else nothing. */
export function displayText(text: string): string {
  const joined = text.replace(/[ \t]*\n+[ \t]*/g, (m: string, off: number, s: string) => (LATIN_OR_DIGIT.test(s[off - 1] ?? '') && LATIN_OR_DIGIT.test(s[off + m.length] ?? '') ? ' ' : ''));
  return normalizeText(joined).trim();
}

/**
 * An HTML snippet around the first occurrence of any term: the page text HTML-escaped, every
 * occurrence of a term inside the window wrapped in <mark>. Nothing else is markup.
 */
export function snippet(text: string, terms: QueryTerm[], before = 20, after = 60): { html: string; found: boolean } {
  // Only a window of the page is normalised for display (a page is ~2,000 characters).
  const [hit] = terms.length ? ranges(text, terms, { first: true }) : [];
  const first = hit ? hit[0] : -1;
  const firstEnd = hit ? hit[1] : -1;
  let rawFrom = first < 0 ? 0 : Math.max(0, first - 2 * before);
  let rawTo = first < 0 ? Math.min(text.length, 2 * (before + after)) : Math.min(text.length, firstEnd + 2 * after);
  if (rawFrom > 0 && /[\udc00-\udfff]/.test(text[rawFrom])) rawFrom--;
  if (rawTo < text.length && /[\udc00-\udfff]/.test(text[rawTo])) rawTo++;
  const t = displayText(text.slice(rawFrom, rawTo));
  const marks = terms.length ? ranges(t, terms) : [];
  if (marks.length === 0) {
    const end = Math.min(t.length, before + after);
    return { html: escapeHtml(t.slice(0, end)) + (end < t.length || rawTo < text.length ? '…' : ''), found: false };
  }
  let from = Math.max(0, marks[0][0] - before);
  let to = Math.min(t.length, marks[0][1] + after);
  // Never split a surrogate pair.
  if (from > 0 && /[\udc00-\udfff]/.test(t[from])) from--;
  if (to < t.length && /[\udc00-\udfff]/.test(t[to])) to++;
  const more = to < t.length || rawTo < text.length;
  return { html: (from > 0 || rawFrom > 0 ? '…' : '') + render(t, from, to, marks) + (more ? '…' : ''), found: true };
}

/** A whole short string (a title) with its term occurrences marked. */
export function highlight(text: string, terms: QueryTerm[]): string {
  const t = displayText(text);
  return render(t, 0, t.length, terms.length ? ranges(t, terms) : []);
}
