// The document viewer: the page image with the matched characters outlined on the scan (from the
// OCR boxes), zoom, page thumbnails (pages with hits marked), page navigation, the recognised text
// alongside, and the searchable PDF.
import { get } from './api.js';
import { clear, h, markTerms } from './dom.js';
import { t } from './i18n.js';
import { hitBoxes, termsOf } from './hits.js';
import { sharingInfo } from './sharing.js';

export async function render(main, route) {
  const id = route.arg;
  const terms = route.params.getAll('t').length ? route.params.getAll('t') : termsOf(route.params.get('q'));
  const [meta, pages] = await Promise.all([get(`/api/items/${encodeURIComponent(id)}`), get(`/api/items/${encodeURIComponent(id)}/text`)]);
  const review = route.params.get('review') === '1';
  let n = Math.min(Math.max(1, Number(route.params.get('page') ?? 1) || 1), meta.pageCount);

  const back = new URLSearchParams();
  if (route.params.get('q')) back.set('q', route.params.get('q'));
  const img = h('img.scan', { id: 'page-image', alt: '' });
  const overlay = h('svg.overlay', { id: 'hit-overlay', 'aria-hidden': 'true', preserveAspectRatio: 'none' });
  const stage = h('div.page-stage', img, overlay);
  const counter = h('span.counter', { id: 'page-counter' });
  const hitsInfo = h('span.hits-info', { id: 'hits-info' });
  // Zoom: 1 = the page fits the pane's width; the outline is an SVG over the image, so it scales along.
  const ZOOMS = [0.5, 0.75, 1, 1.5, 2, 3, 4];
  let zoom = 1;
  const zoomLabel = h('span.zoom-level', { id: 'zoom-level' });
  const setZoom = (z) => {
    zoom = Math.min(ZOOMS.at(-1), Math.max(ZOOMS[0], z));
    // CSSOM, not a style attribute: allowed under the strict CSP.
    stage.style.width = `${zoom * 100}%`;
    zoomLabel.textContent = `${Math.round(zoom * 100)}%`;
  };
  const step = (dir) => setZoom(dir > 0 ? (ZOOMS.find((z) => z > zoom + 1e-9) ?? zoom) : ([...ZOOMS].reverse().find((z) => z < zoom - 1e-9) ?? zoom));
  const zoomOut = h('button', { type: 'button', id: 'zoom-out', title: t('zoomOut'), 'aria-label': t('zoomOut'), onclick: () => step(-1) }, '−');
  const zoomIn = h('button', { type: 'button', id: 'zoom-in', title: t('zoomIn'), 'aria-label': t('zoomIn'), onclick: () => step(1) }, '+');
  const zoomFit = h('button', { type: 'button', id: 'zoom-fit', onclick: () => setZoom(1) }, t('zoomFit'));
  // Thumbnails: every page, loaded lazily; a page holding a hit is marked with its count.
  const thumbs = h(
    'nav.thumbs',
    { id: 'page-thumbs', 'aria-label': t('thumbnails') },
    Array.from({ length: meta.pageCount }, (_, i) => {
      const p = pages.find((x) => x.page === i + 1);
      const hits = p && terms.length ? hitBoxes(p, terms).length : 0;
      return h(
        'button.thumb',
        { type: 'button', 'data-page': i + 1, 'data-hits': hits, title: t('page', { n: i + 1 }), onclick: () => go(i + 1) },
        h('img', { src: `/api/items/${encodeURIComponent(id)}/pages/${i + 1}`, alt: t('page', { n: i + 1 }), loading: 'lazy' }),
        h('span.thumb-n', String(i + 1)),
        hits ? h('span.thumb-hits', String(hits)) : null,
      );
    }),
  );
  const prev = h('button', { type: 'button', id: 'viewer-prev', onclick: () => go(n - 1) }, `← ${t('prevPage')}`);
  const next = h('button', { type: 'button', id: 'viewer-next', onclick: () => go(n + 1) }, `${t('nextPage')} →`);
  const text = h('pre.page-text', { id: 'page-text', tabindex: '0' });
  const info = h(
    'dl.meta-list',
    [
      ['archivalCode', meta.archivalCode],
      ['docNumber', meta.docNumber],
      ['year', meta.year],
      ['retention', meta.retention && t(`retentionNames.${meta.retention}`)],
      ['responsible', meta.responsible],
      ['date', meta.date],
      ['classification', meta.classification],
      ['pageCount', meta.pageCount],
    ]
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      // One grid cell per pair, as sharingInfo's: a label never ends a row with its value opening the next.
      .map(([k, v]) => h('div.meta-row', h('dt', t(k)), h('dd', String(v)))),
    sharingInfo(id),
  );
  clear(
    main,
    h(
      'section.viewer',
      h(
        'div.viewer-head',
        h('a.back', { href: `#/search${back.size ? `?${back}` : ''}`, id: 'back-to-results' }, `← ${t('backToResults')}`),
        h('h1', { id: 'item-title' }, meta.title ?? meta.itemId),
        h('a.button.primary', { id: 'download-pdf', href: `/api/items/${encodeURIComponent(id)}/document.pdf`, download: `${meta.archivalCode ?? meta.itemId}.pdf` }, t('downloadPdf')),
      ),
      info,
      h('div.viewer-nav', prev, counter, next, h('span.zoom', zoomOut, zoomLabel, zoomIn, zoomFit), hitsInfo, h('small.muted', t('keysViewer'))),
      h('div.viewer-body.with-thumbs', thumbs, h('figure.page', { id: 'page-figure' }, stage), h('div.text-pane', h('h2', t('recognisedText')), text)),
    ),
  );
  setZoom(1);

  function draw() {
    const page = pages.find((p) => p.page === n);
    overlay.replaceChildren();
    if (!page || !img.naturalWidth) return;
    // Boxes are in the pixels OCR saw; the viewBox maps them onto the image at whatever size it is shown.
    const sx = img.naturalWidth / (page.width || img.naturalWidth);
    const sy = img.naturalHeight / (page.height || img.naturalHeight);
    overlay.setAttribute('viewBox', `0 0 ${img.naturalWidth} ${img.naturalHeight}`);
    const boxes = hitBoxes(page, terms);
    const pad = 4;
    for (const b of boxes) {
      overlay.append(h('rect.hit', { x: b.x0 * sx - pad, y: b.y0 * sy - pad, width: (b.x1 - b.x0) * sx + 2 * pad, height: (b.y1 - b.y0) * sy + 2 * pad, rx: 4 }, h('title', b.term)));
    }
    // Opened for review (?review=1): the lines the OCR was unsure of, outlined dashed.
    const weak = review ? page.lines.filter((l) => l.weak) : [];
    for (const l of weak) {
      const b = l.box;
      overlay.append(h('rect.weak', { x: b.x0 * sx - pad, y: b.y0 * sy - pad, width: (b.x1 - b.x0) * sx + 2 * pad, height: (b.y1 - b.y0) * sy + 2 * pad }, h('title', l.text)));
    }
    hitsInfo.textContent = [terms.length ? t('hitsOnPage', { n: boxes.length }) : '', weak.length ? t('weakLinesOnPage', { n: weak.length }) : ''].filter(Boolean).join('；');
  }

  function go(to) {
    if (to < 1 || to > meta.pageCount) return;
    n = to;
    const q = new URLSearchParams(route.params);
    q.set('page', String(n));
    history.replaceState(null, '', `#/item/${encodeURIComponent(id)}?${q}`);
    counter.textContent = t('pageOf', { n, total: meta.pageCount });
    prev.disabled = n === 1;
    next.disabled = n === meta.pageCount;
    overlay.replaceChildren();
    hitsInfo.textContent = '';
    img.src = `/api/items/${encodeURIComponent(id)}/pages/${n}`;
    img.alt = t('page', { n });
    const page = pages.find((p) => p.page === n);
    clear(text, markTerms(page?.text ?? '', terms));
    for (const b of thumbs.querySelectorAll('button.thumb')) {
      const on = Number(b.dataset.page) === n;
      b.classList.toggle('current', on);
      if (on) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
  }

  img.addEventListener('load', draw);
  const keys = (e) => {
    if (/INPUT|TEXTAREA|SELECT/.test(document.activeElement?.tagName ?? '')) return;
    if (e.key === 'ArrowRight' || e.key === 'PageDown') go(n + 1);
    else if (e.key === 'ArrowLeft' || e.key === 'PageUp') go(n - 1);
    else if (e.key === 'Escape') document.getElementById('back-to-results')?.click();
    else if (e.key === '+' || e.key === '=') step(1);
    else if (e.key === '-') step(-1);
    else if (e.key === '0') setZoom(1);
    else return;
    e.preventDefault();
  };
  document.addEventListener('keydown', keys);
  go(n);
  return () => document.removeEventListener('keydown', keys);
}
