// Building DOM without HTML strings: every text goes in as text, so nothing from the server can
// become markup. The one exception, search highlights, passes through safeMarks().

/** h('a.btn', {href: '#'}, 'text', child) — tag with optional .classes, attributes, children. */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = tag === 'svg' || SVG_TAGS.has(tag) ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag || 'div');
  if (classes.length) el.setAttribute('class', classes.join(' '));
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = undefined;
  }
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', [el.getAttribute('class'), v].filter(Boolean).join(' '));
    else if (k in el && !(el instanceof SVGElement) && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

const SVG_TAGS = new Set(['rect', 'g', 'path', 'line', 'polyline', 'circle', 'text', 'title']);

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Server highlights come as escaped text with <mark>…</mark> around the terms. Parse them
 * inertly and keep only text and <mark>: anything else the string might hold ends up as text.
 */
export function safeMarks(html) {
  const doc = new DOMParser().parseFromString(`<body>${html ?? ''}</body>`, 'text/html');
  const out = document.createDocumentFragment();
  const walk = (node, into) => {
    for (const n of node.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) into.append(n.data);
      else if (n.nodeType === Node.ELEMENT_NODE && n.nodeName === 'MARK') walk(n, into.appendChild(document.createElement('mark')));
      else if (n.nodeType === Node.ELEMENT_NODE) walk(n, into);
    }
  };
  walk(doc.body, out);
  return out;
}

/** Text with every occurrence of the terms wrapped in <mark>, built as nodes. */
export function markTerms(text, terms) {
  const frag = document.createDocumentFragment();
  const list = terms.filter(Boolean);
  if (!list.length) {
    frag.append(text);
    return frag;
  }
  const esc = list.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  let last = 0;
  for (const m of text.matchAll(new RegExp(esc, 'gi'))) {
    frag.append(text.slice(last, m.index));
    frag.append(h('mark', m[0]));
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '–';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtDuration(seconds) {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A form field: label + control (+ optional hint). */
export function field(label, control, hint) {
  return h('label.field', h('span.label', label), control, hint ? h('small.hint', hint) : null);
}
