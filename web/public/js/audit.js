// 安全审计员: the audit trail in Chinese (labels from audit-labels.js, the table the exports use),
// page by page with its total, filters (who, what, outcome, when), chain status, exports (CSV, XLSX,
// JSONL), the printable audit summary, and search activity per hour counted from the trail itself.
import { get } from './api.js';
import { clear, field, fmtTime, h } from './dom.js';
import { t } from './i18n.js';
import { barChart, bucketTimes } from './charts.js';
import { busy, messageArea, table } from './ui.js';
import { ACTION_LABELS, OUTCOME_LABELS } from './audit-labels.js';
import { sealCard } from './audit-seal.js';

const PAGE = 200;

/** Filters as a query string: the page, the exports and the summary take the same ones. */
function filterQuery(actor, action, outcome, from, to) {
  const q = new URLSearchParams();
  if (actor.value.trim()) q.set('actor', actor.value.trim());
  if (action.value.trim()) q.set('action', action.value.trim());
  if (outcome.value) q.set('outcome', outcome.value);
  if (from.value) q.set('from', from.value);
  if (to.value) q.set('to', to.value);
  return q;
}

function detailsCell(pairs) {
  if (!pairs?.length) return '';
  return h(
    'dl.pairs',
    pairs.map(([k, v]) => [h('dt', k), h('dd', v)]),
  );
}

export function render(main, route) {
  const msgs = messageArea();
  const p = route.params;
  const actor = h('input', { id: 'audit-actor', value: p.get('actor') ?? '', autocomplete: 'off' });
  const action = h(
    'select',
    { id: 'audit-action' },
    h('option', { value: '' }, t('auditAll')),
    Object.entries(ACTION_LABELS).map(([code, label]) => h('option', { value: code, selected: p.get('action') === code }, `${label}（${code}）`)),
  );
  const outcome = h(
    'select',
    { id: 'audit-outcome' },
    h('option', { value: '' }, t('auditAll')),
    Object.entries(OUTCOME_LABELS).map(([code, label]) => h('option', { value: code, selected: p.get('outcome') === code }, label)),
  );
  const from = h('input', { id: 'audit-from', type: 'date', value: p.get('from') ?? '' });
  const to = h('input', { id: 'audit-to', type: 'date', value: p.get('to') ?? '' });
  const go = h('button.primary', { type: 'submit', id: 'audit-filter' }, t('filter'));
  const exportCsv = h('a.button', { id: 'audit-export-csv', href: '/api/admin/audit/export/csv', download: '' }, t('exportCsv'));
  const exportXlsx = h('a.button', { id: 'audit-export-xlsx', href: '/api/admin/audit/export/xlsx', download: '' }, t('exportXlsx'));
  const exportLink = h('a.button', { id: 'audit-export', href: '/api/admin/audit/export/jsonl', download: '' }, t('exportJsonl'));
  const printPdf = h('a.button', { id: 'audit-summary-pdf', href: '/api/admin/audit/summary.pdf', download: '' }, t('printPdf'));
  const chain = h('div.card', { id: 'audit-chain' }, h('h2', t('chain')), h('p.muted', '…'));
  const chart = h('div.card', { id: 'search-activity' }, h('h2', t('searchActivity')));
  const list = h('div', { id: 'audit-records' });
  const count = h('p.status', { id: 'audit-count', 'aria-live': 'polite' });
  const pager = h('nav.pager', { 'aria-label': 'pages' });
  const form = h(
    'form.card.filters',
    { id: 'audit-form' },
    h('h2', t('auditTitle')),
    msgs.el,
    h('div.row', field(t('actor'), actor), field(t('action'), action), field(t('outcome2'), outcome), field(t('from'), from), field(t('to'), to), go),
    h('div.row.actions', exportCsv, exportXlsx, exportLink, printPdf),
    count,
    list,
    pager,
  );
  clear(main, h('section.audit', h('div.grid', h('div', chain, sealCard(), chart), form)));
  let offset = Number(p.get('offset') ?? 0) || 0;

  async function load() {
    const q = filterQuery(actor, action, outcome, from, to);
    const suffix = q.size ? `?${q}` : '';
    exportCsv.setAttribute('href', `/api/admin/audit/export/csv${suffix}`);
    exportXlsx.setAttribute('href', `/api/admin/audit/export/xlsx${suffix}`);
    exportLink.setAttribute('href', `/api/admin/audit/export/jsonl${suffix}`);
    printPdf.setAttribute('href', `/api/admin/audit/summary.pdf${suffix}`);
    // The address keeps the filters and the page (a link can be shared), only when there are any.
    const shown = new URLSearchParams(q);
    if (offset) shown.set('offset', String(offset));
    history.replaceState(null, '', `#/audit${shown.size ? `?${shown}` : ''}`);
    const pq = new URLSearchParams(q);
    pq.set('offset', String(offset));
    pq.set('limit', String(PAGE));
    const r = await get(`/api/admin/audit/page?${pq}`);
    count.textContent = r.total ? t('auditCount', { total: r.total, from: r.offset + 1, to: r.offset + r.records.length }) : '';
    clear(
      list,
      r.records.length
        ? table(
            [t('time'), t('actor'), t('action'), t('target'), t('outcome2'), t('source'), t('auditDetails')],
            r.records.map((x) =>
              h(
                'tr',
                { 'data-action': x.action, 'data-actor': x.actor, 'data-seq': String(x.seq), class: x.outcome },
                h('td.nowrap', fmtTime(x.time)),
                h('td.nowrap', x.actor, x.roleLabel && x.roleLabel !== '-' ? h('small.muted', ` ${x.roleLabel}`) : null),
                h('td.nowrap', { title: x.action }, x.actionLabel),
                h('td.target', x.item ? [h('span.code', x.item.archivalCode ?? t('noArchivalCode')), ' ', h('span.title', x.item.title ?? ''), h('small.muted', ` ${x.target}`)] : x.target),
                h('td.nowrap', { 'data-outcome': x.outcome }, x.outcomeLabel),
                h('td', x.source),
                h('td.details', detailsCell(x.detailPairs)),
              ),
            ),
          )
        : h('p.muted', t('noResults')),
    );
    clear(
      pager,
      h('button', { type: 'button', id: 'audit-prev', disabled: offset === 0, onclick: () => turn(Math.max(0, offset - PAGE)) }, t('auditNewer')),
      h('button', { type: 'button', id: 'audit-next', disabled: r.offset + r.records.length >= r.total, onclick: () => turn(offset + PAGE) }, t('auditOlder')),
    );
  }

  function turn(to) {
    offset = to;
    msgs.clear();
    load().catch((e) => msgs.error(e));
  }

  async function status() {
    try {
      const v = await get('/api/admin/audit/verify');
      clear(
        chain,
        h('h2', t('chain')),
        h(
          'p',
          { class: v.ok ? 'ok' : 'error', id: 'chain-status' },
          v.ok ? `✓ ${t('chainOk', { n: v.records })}` : `✗ ${t('chainBroken', { n: v.firstBroken?.seq ?? '?' })}`,
          v.firstBroken?.zh ? ` — ${v.firstBroken.zh}` : '',
        ),
        v.seals?.zh ? h('p.muted', { id: 'chain-seals' }, v.seals.zh) : null,
      );
    } catch (e) {
      clear(chain, h('h2', t('chain')), h('div.error', { role: 'alert' }, e.message));
    }
    try {
      const since = new Date(Date.now() - 24 * 3600_000).toISOString();
      const r = await get(`/api/admin/audit/records?${new URLSearchParams({ action: 'item.search', from: since, limit: '1000' })}`);
      const buckets = bucketTimes(
        r.records.map((x) => x.time),
        { spanMs: 24 * 3600_000, n: 24 },
      );
      clear(chart, h('h2', t('searchActivity')), h('figure', barChart(t('searchActivity'), buckets, 'chart-search-activity'), h('figcaption', `${r.records.length} / 24 h`)));
    } catch (e) {
      clear(chart, h('h2', t('searchActivity')), h('div.error', { role: 'alert' }, e.message));
    }
  }

  form.addEventListener(
    'submit',
    busy(go, msgs, async () => {
      offset = 0;
      await load();
    }),
  );
  load().catch((e) => msgs.error(e));
  status();
}
