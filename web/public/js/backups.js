// 系统管理员: the backups made on this appliance (read from its local records). Creating and
// restoring stay at the console: the backup passphrase must never travel through the browser.
import { get } from './api.js';
import { clear, fmtBytes, fmtTime, h } from './dom.js';
import { t } from './i18n.js';
import { messageArea, table } from './ui.js';

export function backupsPanel() {
  const msgs = messageArea();
  const list = h('div', { id: 'backup-list' });
  const el = h('div.card', { id: 'backups' }, h('h2', t('backups')), msgs.el, list, h('p.muted', { id: 'backup-console-note' }, t('backupConsoleNote')));
  async function load() {
    let r;
    try {
      r = await get('/api/admin/backups');
    } catch (e) {
      msgs.error(e);
      return;
    }
    if (!r.backups.length) {
      clear(list, h('p.muted', t('noBackups')));
      return;
    }
    clear(list, table([t('time'), t('backupKind'), t('backupId'), t('backupParent'), t('backupItems'), t('backupSize'), t('backupFile')], r.backups.map((b) =>
      h('tr', { 'data-backup': b.id },
        h('td', fmtTime(b.created)), h('td', t(`backupKinds.${b.kind}`)), h('td', h('code', b.id)), h('td', b.parent ? h('code', b.parent) : '—'),
        h('td', String(b.items)), h('td', fmtBytes(b.outBytes)), h('td.path', b.file)))));
  }
  load();
  return { el, load };
}
