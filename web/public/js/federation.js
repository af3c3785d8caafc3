// 系统管理员: the offices joined in 联合检索 and their state (reachable, last answer, documents they
// share with this office); removing one revokes its key at once. Joining stays at the console
// (archive federation invite / join): invitations travel on removable media, not through the browser.
import { api, get } from './api.js';
import { clear, fmtTime, h } from './dom.js';
import { t } from './i18n.js';
import { busy, messageArea, table } from './ui.js';

export function federationPanel() {
  const msgs = messageArea();
  const body = h('div', { id: 'federation-peers' });

  async function load() {
    let r;
    try {
      r = await get('/api/admin/federation');
    } catch (e) {
      msgs.error(e);
      return;
    }
    if (!r.enabled) return clear(body, h('p.muted', t('federationOff')));
    const head = h('p', `${t('federationOffice')}：${r.office.code} ${r.office.name} · ${t('federationEndpoint')} `, h('code', r.endpoint));
    if (!r.peers.length) return clear(body, head, h('p.muted', t('federationNoPeers')));
    clear(
      body,
      head,
      table(
        [t('federationPeer'), t('federationRelation'), t('federationReachable'), t('federationLastAnswer'), t('federationShared'), ''],
        r.peers.map((p) => {
          const remove = h('button.danger', { type: 'button', 'data-remove': p.code }, t('federationRemove'));
          remove.addEventListener(
            'click',
            busy(remove, msgs, async () => {
              if (!window.confirm(t('federationRemoveConfirm', { office: `${p.code} ${p.name}` }))) return;
              await api('DELETE', `/api/admin/federation/peers/${encodeURIComponent(p.code)}`);
              msgs.ok(t('federationRemoved', { office: p.code }));
              await load();
            }),
          );
          return h(
            'tr',
            { 'data-peer': p.code },
            h('td', `${p.code} ${p.name}`, h('br'), h('small.code', p.addr)),
            h('td', t(`federationRelations.${p.relation}`)),
            h('td', p.reachable === undefined ? t('federationNotAsked') : p.reachable ? t('federationUp') : h('span.error', `${t('federationDown')}${p.lastError ? `（${p.lastError}）` : ''}`)),
            h('td', p.lastAnswerAt ? fmtTime(p.lastAnswerAt) : '—'),
            h('td', p.documentsShared === undefined ? '—' : String(p.documentsShared)),
            h('td', remove),
          );
        }),
      ),
    );
  }

  const el = h('div.card', { id: 'federation' }, h('h2', t('federation')), msgs.el, body, h('p.muted', t('federationConsoleNote')));
  load();
  return { el, load };
}
