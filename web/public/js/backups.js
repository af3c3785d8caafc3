// 系统管理员: the backups made on this appliance, and running and verifying one from here. No key
// is asked for: backups go to the registered recipients, signed by the appliance; verify here checks
// structure and signature. Opening and restoring stay with the secadmin's key at the console.
import { get, post } from './api.js';
import { clear, fmtBytes, fmtTime, field, h } from './dom.js';
import { t } from './i18n.js';
import { busy, messageArea, progressBar, table } from './ui.js';

export function backupsPanel() {
  const msgs = messageArea();
  const list = h('div', { id: 'backup-list' });
  const status = h('div', { id: 'backup-task' });
  const out = h('input', { id: 'backup-out', type: 'text', placeholder: '/media/usb/full-2026-11-24.bak', autocomplete: 'off', spellcheck: 'false' });
  const keys = h('div', { id: 'backup-keys' });
  const schedule = h('div', { id: 'backup-schedule' });
  const base = h('select', { id: 'backup-base' }, h('option', { value: '' }, t('backupFull')));
  const verifyFiles = h('input', { id: 'backup-verify-files', type: 'text', placeholder: '/media/usb/full-….bak /media/usb/inc-….bak', autocomplete: 'off', spellcheck: 'false' });
  const runBtn = h('button.primary', { id: 'backup-run', type: 'submit' }, t('backupRun'));
  const verifyBtn = h('button', { id: 'backup-verify', type: 'button' }, t('backupVerify'));
  let polling;

  function showTask(task) {
    if (!task) return clear(status);
    const label = t(task.kind === 'create' ? 'backupRun' : 'backupVerify');
    if (task.state === 'running') {
      const p = task.progress;
      const frac = p?.total ? p.bytes / p.total : 0;
      clear(
        status,
        h('p', `${label}：${t('backupRunning', { who: task.actor })}`),
        progressBar(frac, 'backup-progress'),
        p ? h('small', `${fmtBytes(p.bytes)}${p.total ? ` / ${fmtBytes(p.total)}` : ''} · ${p.mbps} MB/s`) : null,
      );
    } else if (task.state === 'done') {
      const r = task.result;
      const text =
        task.kind === 'create'
          ? t('backupDone', { id: r.backupId, file: r.out, items: r.included, size: fmtBytes(r.outBytes) })
          : t('backupVerified', { list: r.backups.map((b) => b.backupId).join('、') });
      clear(status, h('div.ok', { role: 'status' }, text));
    } else clear(status, h('div.error', { role: 'alert' }, `${label}：${task.error.message}`, h('small.code', ` [${task.error.code}]`)));
  }

  async function follow() {
    clearTimeout(polling);
    const r = await get('/api/admin/backups/task');
    showTask(r.task);
    runBtn.disabled = verifyBtn.disabled = r.task?.state === 'running';
    if (r.task?.state === 'running') polling = setTimeout(() => follow().catch((e) => msgs.error(e)), 1000);
    else if (r.task?.state === 'done' && r.task.kind === 'create') await load();
  }

  async function loadKeys() {
    const k = await get('/api/admin/backups/keys');
    clear(
      keys,
      k.recipients.length
        ? h('p', `${t('backupRecipients')}：`, ...k.recipients.map((r) => h('code', { 'data-fingerprint': r.fingerprint }, `${r.fingerprint}（${r.label}） `)))
        : h('p.error', { id: 'backup-no-recipients' }, t('backupNoRecipients')),
      k.signer ? h('p.muted', `${t('backupSigner')}：`, h('code', k.signer)) : null,
    );
    const s = k.schedule;
    clear(
      schedule,
      h(
        'p',
        `${t('backupSchedule')}：`,
        !s?.enabled
          ? t('backupScheduleOff')
          : `${s.hour}:00 → ${s.target}（${s.keep}）· ${t('backupLastGood')} ${s.lastGood ? fmtTime(s.lastGood.at) : t('backupNever')}${s.lastRun && s.lastRun.outcome !== 'success' ? ` · ${t('backupLastRun')} ${fmtTime(s.lastRun.at)} ${s.lastRun.error?.message ?? ''}` : ''}`,
      ),
    );
  }

  async function load() {
    loadKeys().catch((e) => msgs.error(e));
    let r;
    try {
      r = await get('/api/admin/backups');
    } catch (e) {
      msgs.error(e);
      return;
    }
    clear(base, h('option', { value: '' }, t('backupFull')), ...r.backups.map((b) => h('option', { value: b.id }, `${t('backupIncrementalFrom')} ${b.id}`)));
    if (!r.backups.length) {
      clear(list, h('p.muted', t('noBackups')));
      return;
    }
    clear(
      list,
      table(
        [t('time'), t('backupKind'), t('backupId'), t('backupParent'), t('backupItems'), t('backupSize'), t('backupFile')],
        r.backups.map((b) =>
          h(
            'tr',
            { 'data-backup': b.id },
            h('td', fmtTime(b.created)),
            h('td', t(`backupKinds.${b.kind}`)),
            h('td', h('code', b.id)),
            h('td', b.parent ? h('code', b.parent) : '—'),
            h('td', String(b.items)),
            h('td', fmtBytes(b.outBytes)),
            h('td.path', b.file),
          ),
        ),
      ),
    );
  }

  const form = h('form.backup-form', { id: 'backup-form' }, field(t('backupOut'), out), field(t('backupKind'), base), runBtn, field(t('backupVerifyFiles'), verifyFiles), verifyBtn);
  form.addEventListener(
    'submit',
    busy(runBtn, msgs, async () => {
      await post('/api/admin/backups', { out: out.value.trim(), ...(base.value ? { incrementalFrom: base.value } : {}) });
      await follow();
    }),
  );
  verifyBtn.addEventListener(
    'click',
    busy(verifyBtn, msgs, async () => {
      await post('/api/admin/backups/verify', { files: verifyFiles.value.trim().split(/\s+/).filter(Boolean) });
      await follow();
    }),
  );

  const el = h('div.card', { id: 'backups' }, h('h2', t('backups')), msgs.el, keys, schedule, form, status, list, h('p.muted', { id: 'backup-console-note' }, t('backupConsoleNote')));
  load();
  follow().catch(() => undefined);
  return { el, load };
}
