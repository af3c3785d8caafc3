// 系统管理员: accounts (create, disable, reset password, working roles) and service health.
import { get, post } from './api.js';
import { clear, field, h } from './dom.js';
import { t } from './i18n.js';
import { healthPanel } from './health.js';
import { backupsPanel } from './backups.js';
import { busy, messageArea, table } from './ui.js';

const GRANTABLE = ['staff', 'archivist', 'sysadmin'];

export function render(main) {
  const msgs = messageArea();
  const users = h('div', { id: 'users' });
  const username = h('input', { id: 'new-username', autocomplete: 'off', required: true });
  const displayName = h('input', { id: 'new-display-name', autocomplete: 'off' });
  const password = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true });
  const roles = GRANTABLE.map((r) => h('label.check', h('input', { type: 'checkbox', value: r, id: `new-role-${r}` }), t(`roleNames.${r}`)));
  const create = h('button.primary', { type: 'submit', id: 'create-user' }, t('createUser'));
  const form = h('form.card', { id: 'create-user-form' }, h('h2', t('createUser')), msgs.el, h('div.row', field(t('username'), username), field(t('displayName'), displayName), field(t('password'), password)), h('div.row', roles), create);
  form.addEventListener('submit', busy(create, msgs, async () => {
    const chosen = roles.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    const r = await post('/api/admin/users', { username: username.value.trim(), displayName: displayName.value.trim() || undefined, password: password.value, roles: chosen });
    msgs.ok(`${t('setupDone', { name: r.user.username })}`);
    form.reset();
    await load();
  }));
  const health = healthPanel();
  clear(main, h('section.system', h('h1', t('systemTitle')), h('div.grid', h('div', form, h('div.card', h('h2', t('accounts')), users)), h('div', health.el, backupsPanel().el))));

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
    clear(users, listMsgs.el, table([t('username'), t('displayName'), t('roles'), t('posts'), t('clearance'), '', ''], r.users.map((u) => {
      const act = (label, fn) => {
        const b = h('button.small', { type: 'button' }, label);
        b.addEventListener('click', busy(b, listMsgs, async () => {
          await fn();
          await load();
        }));
        return b;
      };
      return h('tr', { 'data-user': u.username, class: u.disabled ? 'disabled' : undefined },
        h('td', u.username), h('td', u.displayName ?? ''), h('td', u.roles.map((x) => t(`roleNames.${x}`)).join('、')), h('td', u.posts.join(', ')), h('td', u.clearance),
        h('td', u.disabled ? t('disabled') : t('enabled'), u.mustChangePassword ? ' · ⚑' : ''),
        h('td.actions', act(u.disabled ? t('enable') : t('disable'), () => post(`/api/admin/users/${encodeURIComponent(u.username)}/${u.disabled ? 'enable' : 'disable'}`)),
          act(t('resetPassword'), async () => {
            const pw = window.prompt(`${t('resetPassword')}: ${u.username}`);
            if (pw) await post(`/api/admin/users/${encodeURIComponent(u.username)}/password`, { password: pw });
          })));
    })));
  }
  load();
  return undefined;
}

