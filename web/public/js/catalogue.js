// 档案员: find an item, correct its catalogue data (validated by the server), and see which pages
// the OCR was unsure of, so a person looks at them.
import { get, patch, post } from './api.js';
import { clear, debounce, field, h } from './dom.js';
import { t } from './i18n.js';
import { busy, messageArea, table } from './ui.js';
import { sharingSelect, st } from './sharing.js';

/** Below this mean confidence a page is flagged for review. */
export const LOW_CONFIDENCE = 75;

export function render(main, route) {
  const box = h('div', { id: 'catalogue-list' });
  const editor = h('div', { id: 'catalogue-editor' });
  const pending = h('div', { id: 'catalogue-pending' });
  const review = h('div', { id: 'catalogue-review' });
  const input = h('input', { type: 'search', id: 'catalogue-search', placeholder: t('searchPlaceholder'), autocomplete: 'off' });
  clear(
    main,
    h(
      'section.catalogue',
      h('div.card', h('h2', t('pendingTitle')), h('p.muted', t('pendingNote')), pending),
      h('div.card', h('h2', t('ocrReviewTitle')), h('p.muted', t('ocrReviewNote')), review),
      h('div.card', h('h2', t('catalogueTitle')), input, box),
      editor,
    ),
  );

  // 待著录: items that came without catalogue data, so the archivist can name them.
  (async () => {
    try {
      const r = await get('/api/catalogue/pending');
      clear(
        pending,
        r.items.length
          ? table(
              [t('title'), t('pageCount'), ''],
              r.items.map((it) =>
                h('tr', { 'data-item': it.itemId }, h('td', it.title ?? it.itemId), h('td', it.pageCount), h('td', h('a.button', { href: `#/catalogue/${encodeURIComponent(it.itemId)}` }, t('edit')))),
              ),
            )
          : h('p.muted', t('pendingNone')),
      );
    } catch (e) {
      clear(pending, h('div.error', { role: 'alert' }, e.message));
    }
  })();

  // 识别待核对: items with pages whose OCR has doubtful lines; each page opens the viewer outlining them.
  (async () => {
    try {
      const r = await get('/api/catalogue/review');
      const pageLink = (it, n) => h('a.page-link', { href: `#/item/${encodeURIComponent(it.itemId)}?page=${n}&review=1` }, String(n));
      clear(
        review,
        r.items.length
          ? table(
              [t('title'), t('reviewPages'), ''],
              r.items.map((it) =>
                h(
                  'tr',
                  { 'data-item': it.itemId },
                  h('td', it.title ?? it.itemId),
                  h('td', ...it.reviewPages.flatMap((n, i) => (i ? [' ', pageLink(it, n)] : [pageLink(it, n)]))),
                  h('td', h('a.button', { href: `#/catalogue/${encodeURIComponent(it.itemId)}` }, t('edit'))),
                ),
              ),
            )
          : h('p.muted', t('ocrReviewNone')),
      );
    } catch (e) {
      clear(review, h('div.error', { role: 'alert' }, e.message));
    }
  })();

  async function list() {
    try {
      const r = await get(`/api/search?${new URLSearchParams({ q: input.value.trim(), limit: '50' })}`);
      clear(
        box,
        table(
          [t('archivalCode'), t('title'), t('year'), t('pageCount'), ''],
          r.items.map((it) =>
            h(
              'tr',
              { 'data-item': it.itemId },
              h('td', it.archivalCode ?? '–'),
              h('td', it.title ?? it.itemId),
              h('td', it.year ?? ''),
              h('td', it.pageCount),
              h('td', h('a.button', { href: `#/catalogue/${encodeURIComponent(it.itemId)}` }, t('edit'))),
            ),
          ),
        ),
      );
    } catch (e) {
      clear(box, h('div.error', { role: 'alert' }, e.message));
    }
  }
  input.addEventListener('input', debounce(list, 250));
  list();
  if (route.arg) edit(editor, route.arg);
}

async function edit(editor, id) {
  const msgs = messageArea();
  let item;
  try {
    item = await get(`/api/items/${encodeURIComponent(id)}/catalogue`);
  } catch (e) {
    clear(editor, h('div.card', msgs.el));
    msgs.error(e);
    return;
  }
  const text = (name, value) => h('input', { name, id: `edit-${name}`, value: value ?? '' });
  const fields = {
    archivalCode: text('archivalCode', item.archivalCode),
    title: text('title', item.title),
    docNumber: text('docNumber', item.docNumber),
    responsible: text('responsible', item.responsible),
    date: h('input', { name: 'date', id: 'edit-date', value: item.date ?? '', pattern: '\\d{4}-\\d{2}-\\d{2}', placeholder: 'YYYY-MM-DD' }),
    classification: h(
      'select',
      { name: 'classification', id: 'edit-classification' },
      ['公开', '内部'].map((c) => h('option', { value: c, selected: c === item.classification }, c)),
    ),
    posts: text('posts', item.posts.join(', ')),
    sharing: sharingSelect(item.sharing),
  };
  const save = h('button.primary', { type: 'submit', id: 'edit-save' }, t('save'));
  // Re-OCR runs as an ordinary job: its progress shows on the 采集 page like any batch.
  const reocr = h('button', { type: 'button', id: 'edit-reocr' }, t('reocr'));
  reocr.addEventListener(
    'click',
    busy(reocr, msgs, async () => {
      const r = await post(`/api/items/${encodeURIComponent(id)}/reocr`);
      msgs.ok(t('reocrQueued', { job: r.job }));
    }),
  );
  const low = item.pages.filter((p) => p.source === 'ocr' && (p.review || p.confidence < LOW_CONFIDENCE));
  const form = h(
    'form.card',
    { id: 'edit-form' },
    h('h2', `${t('edit')}: ${item.archivalCode ?? item.title ?? item.itemId}`),
    item.cataloguePending ? h('p.flag', { id: 'edit-pending' }, `⚑ ${t('pendingTitle')}`) : null,
    msgs.el,
    ...Object.entries(fields).map(([k, el]) =>
      field(k === 'sharing' ? st('sharing') : t(k), el, k === 'archivalCode' ? '全宗号-年度-保管期限-机构代码-件号，如 J012-2014-Y-BGS-0042' : k === 'sharing' ? st('sharingHint') : undefined),
    ),
    save,
    h('h3', t('reviewPages')),
    table(
      [t('page', { n: '' }).trim(), t('confidence'), t('weakLines'), ''],
      item.pages.map((p) =>
        h(
          'tr',
          { class: low.includes(p) ? 'flag' : undefined, 'data-page': p.page },
          h('td', p.page),
          h('td', `${p.confidence}`),
          h('td', p.weakLines ? String(p.weakLines) : ''),
          h('td', low.includes(p) ? h('a', { href: `#/item/${encodeURIComponent(id)}?page=${p.page}&review=1` }, `⚠ ${t('lowConfidence')}`) : ''),
        ),
      ),
    ),
    h('div.row', reocr, h('span.muted', t('reocrNote'))),
  );
  form.addEventListener(
    'submit',
    busy(save, msgs, async () => {
      // Browser-side checks only help the person; the server validates again and has the last word.
      if (fields.date.value && !/^\d{4}-\d{2}-\d{2}$/.test(fields.date.value)) throw new Error('日期须为 YYYY-MM-DD。');
      const body = {
        archivalCode: fields.archivalCode.value.trim(),
        title: fields.title.value.trim(),
        docNumber: fields.docNumber.value.trim(),
        responsible: fields.responsible.value.trim(),
        date: fields.date.value.trim(),
        classification: fields.classification.value,
        posts: fields.posts.value.split(/[,，;；、\s]+/).filter(Boolean),
        // Sent only when changed: deciding what leaves the office needs filing rights over all its posts.
        ...(fields.sharing.value !== (item.sharing ?? 'office') ? { sharing: fields.sharing.value } : {}),
      };
      const r = await patch(`/api/items/${encodeURIComponent(id)}`, body);
      msgs.ok(`${t('saved')} ${r.archivalCode ?? ''}`);
    }),
  );
  clear(editor, form);
}
