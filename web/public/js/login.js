// Login, first-start setup of the three administrators, and the forced password change.
import { get, post } from './api.js';
import { clear, field, h } from './dom.js';
import { t } from './i18n.js';
import { busy, messageArea } from './ui.js';

export async function showLogin(main, done, notice) {
  // The pre-login CSRF cookie (double submit) for the login and setup posts.
  await get('/api/auth/csrf').catch(() => undefined);
  const msgs = messageArea();
  if (notice) msgs.el.append(h('div.error', { role: 'alert', id: 'session-lost' }, notice));
  const username = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button.primary', { type: 'submit', id: 'login-submit' }, t('login'));
  const form = h('form.card.login', { id: 'login-form' }, h('h1', t('loginTitle')), msgs.el, field(t('username'), username), field(t('password'), password), submit);
  form.addEventListener(
    'submit',
    busy(submit, msgs, async () => {
      const m = await post('/api/auth/login', { username: username.value.trim(), password: password.value });
      password.value = '';
      done(m);
    }),
  );
  const setupSlot = h('div');
  clear(main, h('div.login-page', form, setupSlot));
  username.focus();
  renderSetup(setupSlot);
}

async function renderSetup(slot) {
  let info;
  try {
    info = await get('/api/auth/setup');
  } catch {
    return;
  }
  if (!info.needed) {
    slot.replaceChildren();
    return;
  }
  const msgs = messageArea();
  const token = h('input', { id: 'setup-token', autocomplete: 'off', required: true });
  const role = h(
    'select',
    { id: 'setup-role' },
    info.vacantRoles.map((r) => h('option', { value: r.code }, t(`roleNames.${r.code}`))),
  );
  const username = h('input', { id: 'setup-username', autocomplete: 'off', required: true });
  const displayName = h('input', { id: 'setup-display-name', autocomplete: 'off' });
  const password = h('input', { id: 'setup-password', type: 'password', autocomplete: 'new-password', required: true });
  const submit = h('button.primary', { type: 'submit', id: 'setup-submit' }, t('createAdmin'));
  const form = h(
    'form.card.setup',
    { id: 'setup-form' },
    h('h2', t('setupTitle')),
    h('p.muted', t('setupIntro')),
    msgs.el,
    field(t('setupToken'), token),
    field(t('role'), role),
    field(t('username'), username),
    field(t('displayName'), displayName),
    field(t('password'), password),
    h('p.muted', t('setupVacant', { roles: info.vacantRoles.map((r) => t(`roleNames.${r.code}`)).join('、') })),
    submit,
  );
  form.addEventListener(
    'submit',
    busy(submit, msgs, async () => {
      const keep = token.value.trim();
      const r = await post('/api/auth/setup', { token: keep, username: username.value.trim(), password: password.value, role: role.value, displayName: displayName.value.trim() || undefined });
      await renderSetup(slot);
      const again = slot.querySelector('#setup-token');
      if (again) again.value = keep;
      const note = h('div.ok', { role: 'status', id: 'setup-done' }, t('setupDone', { name: r.user.username }));
      const area = slot.querySelector('.messages');
      if (area) area.replaceChildren(note);
      else slot.replaceChildren(note);
    }),
  );
  slot.replaceChildren(form);
}

export function showPasswordChange(main, done, me) {
  const msgs = messageArea();
  const r = me?.user?.resetPending;
  const current = h('input', { id: 'pw-current', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { id: 'pw-new', type: 'password', autocomplete: 'new-password', required: true });
  const again = h('input', { id: 'pw-again', type: 'password', autocomplete: 'new-password', required: true });
  const submit = h('button.primary', { type: 'submit', id: 'pw-submit' }, t('changePassword'));
  const form = h(
    'form.card.login',
    { id: 'password-form' },
    h('h1', t('changePassword')),
    h('p', t('mustChange')),
    r ? h('p.error', { id: 'reset-notice', role: 'status' }, t('resetNotice', { by: r.by, time: new Date(r.at).toLocaleString() })) : null,
    msgs.el,
    field(t('currentPassword'), current),
    field(t('newPassword'), next),
    field(t('repeatPassword'), again),
    submit,
  );
  form.addEventListener(
    'submit',
    busy(submit, msgs, async () => {
      if (next.value !== again.value) throw new Error(t('passwordMismatch'));
      done(await post('/api/auth/password', { current: current.value, next: next.value }));
    }),
  );
  clear(main, h('div.login-page', form));
  current.focus();
}
