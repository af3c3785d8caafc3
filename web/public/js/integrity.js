// 安全保密管理员: the integrity report (四性检测) with its per-item problems and a button to run a
// check now, and the virus-signature status. Importing signatures stays at the console.
import { get, post } from './api.js';
import { clear, fmtTime, h } from './dom.js';
import { t } from './i18n.js';
import { busy, messageArea, table } from './ui.js';

const STATUSES = ['ok', 'changed', 'missing', 'untracked', 'unusable', 'unsafe'];

function reportView(r) {
  const counts = table(
    [t('integrityTotal'), ...STATUSES.map((x) => t(`integrityStatus.${x}`))],
    h(
      'tr',
      h('td', String(r.counts.total)),
      STATUSES.map((x) => h('td', { 'data-status': x, class: x !== 'ok' && r.counts[x] ? 'bad' : undefined }, String(r.counts[x] ?? 0))),
    ),
    { id: 'integrity-counts' },
  );
  const four = ['authenticity', 'completeness', 'usability', 'security'].map((k) =>
    h(`span.badge.${r[k]?.ok ? 'ok' : 'down'}`, { 'data-aspect': k }, `${t(`integrityAspects.${k}`)} ${r[k]?.ok ? '✓' : '✗'}`),
  );
  const items = r.items.length
    ? table(
        [t('integrityItem'), t('integrityStatusCol'), t('integrityProblems')],
        r.items.map((c) => h('tr', { 'data-item': c.itemId }, h('td', c.archivalCode ?? c.itemId), h('td', t(`integrityStatus.${c.status}`)), h('td', c.problems.join('；')))),
        { id: 'integrity-items' },
      )
    : h('p.muted', t('integrityNoItemProblems'));
  return h(
    'div',
    { id: 'integrity-report' },
    h('p', h(`strong.${r.ok ? 'ok' : 'bad'}`, r.ok ? t('integrityOk') : t('integrityBad')), ' · ', t('integrityRanAt', { time: fmtTime(r.finishedAt), ms: r.ms })),
    h('div.row', four),
    counts,
    items,
    r.problems.length
      ? h(
          'details',
          h('summary', t('integrityAllProblems', { n: r.problems.length })),
          h(
            'ul',
            r.problems.map((p) => h('li', p)),
          ),
        )
      : null,
    r.warnings.length
      ? h(
          'ul.warnings',
          r.warnings.map((w) => h('li.warn', w)),
        )
      : null,
  );
}

export function integrityPanel() {
  const msgs = messageArea();
  const body = h('div');
  const run = h('button.primary', { type: 'button', id: 'integrity-run' }, t('integrityRun'));
  // The PDF is made on the appliance (Chinese font embedded) from the latest saved report.
  const print = h('a.button', { id: 'integrity-pdf', href: '/api/integrity/latest.pdf', download: '' }, t('printPdf'));
  const el = h('div.card', { id: 'integrity' }, h('h2', t('integrityTitle')), msgs.el, h('div.row.actions', run, print), body);
  run.addEventListener(
    'click',
    busy(run, msgs, async () => {
      clear(body, h('p.muted', t('integrityRunning')));
      try {
        clear(body, reportView(await post('/api/integrity/run')));
      } catch (e) {
        clear(body);
        throw e;
      }
    }),
  );
  async function load() {
    try {
      clear(body, reportView(await get('/api/integrity/latest')));
    } catch (e) {
      if (e.status === 404) clear(body, h('p.muted', { id: 'integrity-none' }, e.message));
      else msgs.error(e);
    }
  }
  load();
  return { el, load };
}

export function signaturesPanel() {
  const msgs = messageArea();
  const body = h('div', { id: 'signature-status' });
  const el = h('div.card', { id: 'signatures' }, h('h2', t('signatures')), msgs.el, body, h('p.muted', t('signatureImportNote')));
  async function load() {
    let s;
    try {
      s = await get('/api/signatures');
    } catch (e) {
      msgs.error(e);
      return;
    }
    if (s.status !== 'up') {
      clear(body, h('div.error', { role: 'alert' }, s.reason || t('signaturesDown')));
      return;
    }
    clear(
      body,
      h(
        'dl',
        [h('dt', t('signatureEngine')), h('dd', s.engine)],
        [h('dt', t('signatureVersion')), h('dd', s.signatureVersion ?? '—')],
        [h('dt', t('signatureDate')), h('dd', s.signatureDate ? fmtTime(s.signatureDate) : '—')],
        [h('dt', t('signatureAge')), h('dd', s.ageDays ?? '—')],
      ),
      s.stale ? h('div.error', { role: 'alert', id: 'signature-stale' }, t('signatureStale', { days: s.ageDays, max: s.maxAgeDays })) : null,
    );
  }
  load();
  return { el, load };
}
