// 系统管理员: accounts (create, disable, reset password, working roles) and service health.
import { get, post } from './api.js';
import { clear, field, h } from './dom.js';
import { t } from './i18n.js';
import { healthPanel } from './health.js';
import { backupsPanel } from './backups.js';
import { federationPanel } from './federation.js';
import { busy, messageArea, table } from './ui.js';

const GRANTABLE = ['staff', 'archivist', 'sysadmin'];

/**
 * The password reset dialog: typed twice, masked, checked before it is sent; the server's refusal
 * (policy, 三员) shown inside it. Nothing is shown in plain text.
 */
function resetDialog(username, done) {
  const msgs = messageArea();
  const pw = h('input', { id: 'reset-password', type: 'password', autocomplete: 'new-password', required: true });
  const again = h('input', { id: 'reset-again', type: 'password', autocomplete: 'new-password', required: true });
  const ok = h('button.primary', { type: 'submit', id: 'reset-submit' }, t('resetPassword'));
  const cancel = h('button', { type: 'button', id: 'reset-cancel' }, t('cancel'));
  const form = h(
    'form',
    { method: 'dialog' },
    h('h2', t('resetDialogTitle', { name: username })),
    h('p.muted', t('resetDialogNote')),
    msgs.el,
    field(t('newPassword'), pw),
    field(t('repeatPassword'), again),
    h('div.row', ok, cancel),
  );
  const dlg = h('dialog', { id: 'reset-dialog', 'aria-label': t('resetDialogTitle', { name: username }) }, form);
  const close = () => {
    dlg.close();
    dlg.remove();
  };
  cancel.addEventListener('click', close);
  dlg.addEventListener('cancel', () => dlg.remove());
  form.addEventListener(
    'submit',
    busy(ok, msgs, async () => {
      if (pw.value !== again.value) throw new Error(t('passwordMismatch'));
      await post(`/api/admin/users/${encodeURIComponent(username)}/password`, { password: pw.value });
      pw.value = '';
      again.value = '';
      close();
      await done();
    }),
  );
  document.body.append(dlg);
  dlg.showModal();
  pw.focus();
}

export function render(main) {
  const msgs = messageArea();
  const users = h('div', { id: 'users' });
  const username = h('input', { id: 'new-username', autocomplete: 'off', required: true });
  const displayName = h('input', { id: 'new-display-name', autocomplete: 'off' });
  const password = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true });
  const roles = GRANTABLE.map((r) => h('label.check', h('input', { type: 'checkbox', value: r, id: `new-role-${r}` }), t(`roleNames.${r}`)));
  const create = h('button.primary', { type: 'submit', id: 'create-user' }, t('createUser'));
  const form = h(
    'form.card',
    { id: 'create-user-form' },
    h('h2', t('createUser')),
    msgs.el,
    h('div.row', field(t('username'), username), field(t('displayName'), displayName), field(t('password'), password)),
    h('div.row', roles),
    create,
  );
  form.addEventListener(
    'submit',
    busy(create, msgs, async () => {
      const chosen = roles
        .map((l) => l.querySelector('input'))
        .filter((i) => i.checked)
        .map((i) => i.value);
      const r = await post('/api/admin/users', { username: username.value.trim(), displayName: displayName.value.trim() || undefined, password: password.value, roles: chosen });
      msgs.ok(`${t('setupDone', { name: r.user.username })}`);
      form.reset();
      await load();
    }),
  );
  const health = healthPanel();
  clear(
    main,
    h('section.system', h('h1', t('systemTitle')), h('div.grid', h('div', form, h('div.card', h('h2', t('accounts')), users)), h('div', health.el, backupsPanel().el, federationPanel().el))),
  );

  async function load() {
    const listMsgs = messageArea();
    let r;
    try {
      r = await get('/api/admin/users');
    } catch (e) {
      clear(users, listMsgs.el);
      listMsgs.error(e);
      return;
    }
    const note = h('p.muted.legend', { id: 'users-legend' }, t('legendMustChange'), ' ', t('consoleOnly'));
    clear(
      users,
      listMsgs.el,
      table(
        [t('username'), t('displayName'), t('roles'), t('posts'), t('clearance'), '', ''],
        r.users.map((u) => {
          const act = (label, fn, cls) => {
            const b = h(`button.small${cls ? `.${cls}` : ''}`, { type: 'button' }, label);
            b.addEventListener(
              'click',
              busy(b, listMsgs, async () => {
                await fn();
                await load();
              }),
            );
            return b;
          };
          // Only what this administrator may do: officers' accounts are not theirs to disable, reset or unlock.
          const mine = u.roles.every((x) => GRANTABLE.includes(x));
          const locked = u.lockedUntil && u.lockedUntil > Date.now();
          const status = u.disabled ? t('disabled') : locked ? h('span.badge.down', { title: t('lockedUntil', { time: new Date(u.lockedUntil).toLocaleString() }) }, t('locked')) : t('enabled');
          const flags = [
            u.mustChangePassword ? h('span.flag', { title: t('mustChangeTip'), 'aria-label': t('mustChangeTip') }, ` ${t('mustChangeFlag')}`) : null,
            u.resetPending ? h('span.badge.degraded', { title: t('resetPendingTip', { by: u.resetPending.by, time: new Date(u.resetPending.at).toLocaleString() }) }, t('resetPending')) : null,
          ];
          const actions = mine
            ? [
                locked
                  ? act(
                      t('unlock'),
                      async () => {
                        await post(`/api/admin/users/${encodeURIComponent(u.username)}/unlock`);
                        listMsgs.ok(t('unlocked', { name: u.username }));
                      },
                      'unlock',
                    )
                  : null,
                act(u.disabled ? t('enable') : t('disable'), () => post(`/api/admin/users/${encodeURIComponent(u.username)}/${u.disabled ? 'enable' : 'disable'}`)),
                (() => {
                  const b = h('button.small', { type: 'button', class: 'reset' }, t('resetPassword'));
                  b.addEventListener('click', () =>
                    resetDialog(u.username, async () => {
                      await load();
                      msgs.ok(t('resetDone', { name: u.username }));
                    }),
                  );
                  return b;
                })(),
              ]
            : [h('small.muted', t('consoleOnly'))];
          return h(
            'tr',
            { 'data-user': u.username, class: u.disabled ? 'disabled' : locked ? 'locked' : undefined },
            h('td', u.username),
            h('td', u.displayName ?? ''),
            h('td', u.roles.map((x) => t(`roleNames.${x}`)).join('、')),
            h('td', u.posts.join(', ')),
            h('td', u.clearance),
            h('td.status', status, flags),
            h('td.actions', actions),
          );
        }),
      ),
      note,
    );
  }
  load();
  return undefined;
}
