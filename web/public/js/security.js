// 安全保密管理员: posts, and each user's posts and clearance; scanner signature status and the integrity report.
import { get, post, put } from './api.js';
import { clear, field, h } from './dom.js';
import { t } from './i18n.js';
import { healthPanel } from './health.js';
import { integrityPanel, signaturesPanel } from './integrity.js';
import { departmentsPanel } from './departments.js';
import { busy, messageArea, table } from './ui.js';

const CLEARANCES = ['公开', '内部', '秘密', '机密', '绝密'];

export function render(main) {
  const msgs = messageArea();
  const postsBox = h('div', { id: 'posts' });
  const usersBox = h('div', { id: 'access' });
  const code = h('input', { id: 'post-code', required: true, autocomplete: 'off' });
  const name = h('input', { id: 'post-name', required: true, autocomplete: 'off' });
  const dept = h('input', { id: 'post-department', autocomplete: 'off' });
  const create = h('button.primary', { type: 'submit', id: 'create-post' }, t('createPost'));
  const form = h('form.card', { id: 'create-post-form' }, h('h2', t('createPost')), msgs.el, h('div.row', field(t('code'), code), field(t('name'), name), field(t('department'), dept)), create);
  form.addEventListener('submit', busy(create, msgs, async () => {
    await post('/api/admin/posts', { code: code.value.trim(), name: name.value.trim(), department: dept.value.trim() || undefined });
    msgs.ok(`${t('postsTitle')} ${code.value.trim()} ✓`);
    form.reset();
    await load();
  }));
  const health = healthPanel();
  clear(main, h('section.security', h('h1', t('securityTitle')), h('div.grid', h('div', form, h('div.card', h('h2', t('postsTitle')), postsBox), departmentsPanel().el), h('div', h('div.card', h('h2', t('assign')), usersBox), health.el, signaturesPanel().el, integrityPanel().el))));

  async function load() {
    const listMsgs = messageArea();
    let posts;
    let users;
    try {
      [{ posts }, { users }] = await Promise.all([get('/api/admin/posts'), get('/api/admin/users')]);
    } catch (e) {
      clear(usersBox, listMsgs.el);
      listMsgs.error(e);
      return;
    }
    clear(postsBox, table([t('code'), t('name'), t('department')], posts.map((p) => h('tr', { 'data-post': p.code }, h('td', p.code), h('td', p.name), h('td', p.department ?? '')))));
    // Only working accounts hold posts: the three administrators never read archives.
    const workers = users.filter((u) => u.roles.some((r) => r === 'staff' || r === 'archivist'));
    clear(usersBox, listMsgs.el, table([t('username'), t('roles'), t('posts'), t('clearance'), ''], workers.map((u) => {
      const boxes = posts.map((p) => h('label.check', h('input', { type: 'checkbox', value: p.code, checked: u.posts.includes(p.code), 'data-post': p.code }), p.code));
      const clearance = h('select', { 'aria-label': t('clearance') }, CLEARANCES.map((c) => h('option', { value: c, selected: c === u.clearance }, c)));
      const apply = h('button.small', { type: 'button' }, t('apply'));
      apply.addEventListener('click', busy(apply, listMsgs, async () => {
        const chosen = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
        await put(`/api/admin/users/${encodeURIComponent(u.username)}/access`, { posts: chosen, clearance: clearance.value });
        listMsgs.ok(`${u.username}: ${chosen.join(', ')} · ${clearance.value} ✓`);
      }));
      return h('tr', { 'data-user': u.username }, h('td', u.username), h('td', u.roles.map((x) => t(`roleNames.${x}`)).join('、')), h('td.posts', boxes), h('td', clearance), h('td', apply));
    })));
  }
  load();
}
