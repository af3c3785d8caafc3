// 安全审计员: the audit trail with filters (who, what, when), chain status, export, and search
// activity per hour counted from the trail itself.
import { get } from './api.js';
import { clear, field, fmtTime, h } from './dom.js';
import { t } from './i18n.js';
import { barChart, bucketTimes } from './charts.js';
import { busy, messageArea, table } from './ui.js';
import { sealCard } from './audit-seal.js';

export function render(main, route) {
  const msgs = messageArea();
  const p = route.params;
  const actor = h('input', { id: 'audit-actor', value: p.get('actor') ?? '', autocomplete: 'off' });
  const action = h('input', { id: 'audit-action', value: p.get('action') ?? '', placeholder: 'item.search / auth / user.create', autocomplete: 'off' });
  const from = h('input', { id: 'audit-from', type: 'date', value: p.get('from') ?? '' });
  const to = h('input', { id: 'audit-to', type: 'date', value: p.get('to') ?? '' });
  const go = h('button.primary', { type: 'submit', id: 'audit-filter' }, t('filter'));
  const exportLink = h('a.button', { id: 'audit-export', href: '/api/admin/audit/export', download: 'audit-export.jsonl' }, t('export'));
  const chain = h('div.card', { id: 'audit-chain' }, h('h2', t('chain')), h('p.muted', '…'));
  const chart = h('div.card', { id: 'search-activity' }, h('h2', t('searchActivity')));
  const list = h('div', { id: 'audit-records' });
  const form = h('form.card.filters', { id: 'audit-form' }, h('h2', t('auditTitle')), msgs.el, h('div.row', field(t('actor'), actor), field(t('action'), action), field(t('from'), from), field(t('to'), to), go, exportLink), list);
  clear(main, h('section.audit', h('div.grid', h('div', chain, sealCard(), chart), form)));

  const query = () => {
    const q = new URLSearchParams({ limit: '500' });
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    if (action.value.trim()) q.set('action', action.value.trim());
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    return q;
  };

  async function load() {
    const q = query();
    const range = new URLSearchParams([...q].filter(([k]) => k === 'from' || k === 'to'));
    exportLink.setAttribute('href', `/api/admin/audit/export${range.size ? `?${range}` : ''}`);
    const r = await get(`/api/admin/audit/records?${q}`);
    const rows = [...r.records].reverse(); // newest first
    clear(list, rows.length ? table([t('time'), t('actor'), t('action'), t('target'), t('outcome2'), t('source'), ''], rows.map((x) => h('tr', { 'data-action': x.action, 'data-actor': x.actor, class: x.outcome },
      h('td.nowrap', fmtTime(x.time)), h('td', x.actor, x.role && x.role !== '-' ? h('small.muted', ` ${x.role}`) : null), h('td', x.action), h('td', x.target), h('td', x.outcome), h('td', x.source),
      h('td.details', x.details && Object.keys(x.details).length ? JSON.stringify(x.details) : '')))) : h('p.muted', t('noResults')));
  }

  async function status() {
    try {
      const v = await get('/api/admin/audit/verify');
      clear(chain, h('h2', t('chain')), h('p', { class: v.ok ? 'ok' : 'error', id: 'chain-status' }, v.ok ? `✓ ${t('chainOk', { n: v.records })}` : `✗ ${t('chainBroken', { n: v.firstBroken?.seq ?? '?' })}`, v.firstBroken?.zh ? ` — ${v.firstBroken.zh}` : ''), v.seals?.zh ? h('p.muted', { id: 'chain-seals' }, v.seals.zh) : null);
    } catch (e) {
      clear(chain, h('h2', t('chain')), h('div.error', { role: 'alert' }, e.message));
    }
    try {
      const since = new Date(Date.now() - 24 * 3600_000).toISOString();
      const r = await get(`/api/admin/audit/records?${new URLSearchParams({ action: 'item.search', from: since, limit: '1000' })}`);
      const buckets = bucketTimes(r.records.map((x) => x.time), { spanMs: 24 * 3600_000, n: 24 });
      clear(chart, h('h2', t('searchActivity')), h('figure', barChart(t('searchActivity'), buckets, 'chart-search-activity'), h('figcaption', `${r.records.length} / 24 h`)));
    } catch (e) {
      clear(chart, h('h2', t('searchActivity')), h('div.error', { role: 'alert' }, e.message));
    }
  }

  form.addEventListener('submit', busy(go, msgs, load));
  load().catch((e) => msgs.error(e));
  status();
}
