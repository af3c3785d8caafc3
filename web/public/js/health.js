// Service health (Meilisearch, clamd, disk, OCR data) with the disk-use bar; shared by the
// system and security administrators' pages.
import { get } from './api.js';
import { clear, fmtBytes, fmtTime, h } from './dom.js';
import { t } from './i18n.js';
import { usageBar } from './charts.js';
import { badge, table } from './ui.js';

const REFRESH_MS = 20_000;

export function healthPanel() {
  const el = h('div.card', { id: 'health' });
  async function load() {
    let r;
    try {
      // 503 still carries the report: read it either way. Only the sysadmin and secadmin get the details.
      const res = await fetch('/api/health/details', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      r = await res.json();
    } catch (e) {
      clear(el, h('h2', t('health')), h('div.error', { role: 'alert' }, t('networkError')));
      return;
    }
    if (r?.error) {
      clear(el, h('h2', t('health')), h('div.error', { role: 'alert' }, r.error.message ?? r.error.code));
      return;
    }
    const disk = r.components?.disk;
    clear(
      el,
      h('h2', t('health'), ' ', badge(r.status), h('button.link', { type: 'button', onclick: load }, t('refresh'))),
      h('p.muted', fmtTime(r.time)),
      table(
        [t('componentCol'), t('statusCol'), t('reasonCol')],
        Object.entries(r.components ?? {}).map(([name, c]) => h('tr', { 'data-component': name }, h('th', { scope: 'row' }, componentName(name)), h('td', badge(c.status)), h('td', c.reason ?? ''))),
      ),
      disk?.totalBytes
        ? h(
            'figure',
            usageBar(
              t('diskUse'),
              disk.totalBytes - disk.freeBytes,
              disk.totalBytes,
              `${t('used')} ${fmtBytes(disk.totalBytes - disk.freeBytes)} / ${fmtBytes(disk.totalBytes)} · ${t('free')} ${fmtBytes(disk.freeBytes)}`,
              'chart-disk',
            ),
            h('figcaption', t('diskUse')),
          )
        : null,
    );
  }
  // Read again every 20 s while the panel is on the page: a component that was slow or down at the
  // first reading (Meilisearch busy indexing, clamd restarting) shows its state now, not then.
  // (The page attaches the panel as soon as it is built; once it is gone, the readings stop.)
  (function every() {
    setTimeout(() => {
      if (el.isConnected) load().finally(every);
    }, REFRESH_MS);
  })();
  load();
  return { el, load, report: () => get('/api/health/details').catch(() => undefined) };
}

/** A component's name in the UI language; an unknown component keeps its code. */
function componentName(code) {
  const key = `componentNames.${code}`;
  const label = t(key);
  return label === key ? code : label;
}
