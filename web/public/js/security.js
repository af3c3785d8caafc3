// 安全保密管理员: posts, and each user's posts and clearance; scanner signature status and the integrity report.
import { get, patch, post, put } from './api.js';
import { clear, field, h } from './dom.js';
import { t } from './i18n.js';
import { healthPanel } from './health.js';
import { integrityPanel, signaturesPanel } from './integrity.js';
import { departmentsPanel } from './departments.js';
import { sharingPolicyPanel } from './sharing.js';
import { busy, messageArea, table } from './ui.js';

const CLEARANCES = ['公开', '内部', '秘密', '机密', '绝密'];

export function render(main) {
  const msgs = messageArea();
  const postsBox = h('div', { id: 'posts' });
  const usersBox = h('div', { id: 'access' });
  const resetsBox = h('div', { id: 'resets' });
  const code = h('input', { id: 'post-code', required: true, autocomplete: 'off' });
  const name = h('input', { id: 'post-name', required: true, autocomplete: 'off' });
  const dept = h('input', { id: 'post-department', autocomplete: 'off' });
  const create = h('button.primary', { type: 'submit', id: 'create-post' }, t('createPost'));
  const form = h('form.card', { id: 'create-post-form' }, h('h2', t('createPost')), msgs.el, h('div.row', field(t('code'), code), field(t('name'), name), field(t('department'), dept)), create);
  form.addEventListener(
    'submit',
    busy(create, msgs, async () => {
      await post('/api/admin/posts', { code: code.value.trim(), name: name.value.trim(), department: dept.value.trim() || undefined });
      msgs.ok(`${t('postsTitle')} ${code.value.trim()} ✓`);
      form.reset();
      await load();
    }),
  );
  const health = healthPanel();
  clear(
    main,
    h(
      'section.security',
      h('h1', t('securityTitle')),
      h(
        'div.grid',
        h('div', form, h('div.card', h('h2', t('postsTitle')), postsBox), departmentsPanel().el, sharingPolicyPanel().el),
        h('div', h('div.card', h('h2', t('resetsTitle')), resetsBox), h('div.card', h('h2', t('assign')), usersBox), health.el, signaturesPanel().el, integrityPanel().el),
      ),
    ),
  );

  async function load() {
    const listMsgs = messageArea();
    let posts;
    let users;
    let ceiling;
    try {
      [{ posts }, { users, ceiling = '内部' }] = await Promise.all([get('/api/admin/posts'), get('/api/admin/users')]);
    } catch (e) {
      clear(usersBox, listMsgs.el);
      listMsgs.error(e);
      return;
    }
    const postRow = (p) => {
      const nameIn = h('input', { value: p.name, 'aria-label': t('name'), class: 'post-name' });
      const save = h('button.small', { type: 'button', class: 'rename' }, t('rename'));
      save.addEventListener(
        'click',
        busy(save, listMsgs, async () => {
          await patch(`/api/admin/posts/${encodeURIComponent(p.code)}`, { name: nameIn.value.trim() });
          listMsgs.ok(t('postSaved', { code: p.code }));
          await load();
        }),
      );
      const toggle = h('button.small', { type: 'button', class: 'toggle' }, p.disabled ? t('enablePost') : t('disablePost'));
      toggle.addEventListener(
        'click',
        busy(toggle, listMsgs, async () => {
          await patch(`/api/admin/posts/${encodeURIComponent(p.code)}`, { disabled: !p.disabled });
          listMsgs.ok(t('postSaved', { code: p.code }));
          await load();
        }),
      );
      return h(
        'tr',
        { 'data-post': p.code, class: p.disabled ? 'disabled' : undefined },
        h('td', p.code),
        h('td', nameIn),
        h('td', p.department ?? ''),
        h('td', p.disabled ? t('postDisabled') : t('postEnabled')),
        h('td.actions', save, toggle),
      );
    };
    clear(postsBox, table([t('code'), t('name'), t('department'), '', ''], posts.map(postRow)), h('p.muted.legend', t('postsNote')));
    // Password resets by the system administrator wait here for this officer's confirmation.
    const pending = users.filter((u) => u.resetPending);
    clear(
      resetsBox,
      pending.length
        ? table(
            [t('username'), t('resetBy'), t('resetAt'), t('ownerChanged'), ''],
            pending.map((u) => {
              const b = h('button.small.primary', { type: 'button', class: 'confirm-reset' }, t('confirmReset'));
              b.addEventListener(
                'click',
                busy(b, listMsgs, async () => {
                  await post(`/api/admin/users/${encodeURIComponent(u.username)}/confirm-reset`);
                  listMsgs.ok(t('confirmed', { name: u.username }));
                  await load();
                }),
              );
              return h(
                'tr',
                { 'data-user': u.username },
                h('td', u.username),
                h('td', u.resetPending.by),
                h('td', new Date(u.resetPending.at).toLocaleString()),
                h('td', u.mustChangePassword ? t('no') : t('yes')),
                h('td', b),
              );
            }),
          )
        : h('p.muted', t('noResets')),
    );
    // Only working accounts hold posts: the three administrators never read archives.
    const workers = users.filter((u) => u.roles.some((r) => r === 'staff' || r === 'archivist'));
    const rank = (c) => CLEARANCES.indexOf(c);
    clear(
      usersBox,
      listMsgs.el,
      table(
        [t('username'), t('roles'), t('posts'), t('clearance'), ''],
        workers.map((u) => {
          // A disabled post can stay with whoever holds it, but is not offered to anyone else.
          const offer = (held) => posts.filter((p) => !p.disabled || held.includes(p.code));
          const boxes = offer(u.posts).map((p) => h('label.check', h('input', { type: 'checkbox', value: p.code, checked: u.posts.includes(p.code), 'data-post': p.code }), p.code));
          const archivist = u.roles.includes('archivist');
          const filing = archivist
            ? offer(u.filingPosts ?? []).map((p) =>
                h('label.check', h('input', { type: 'checkbox', value: p.code, checked: (u.filingPosts ?? []).includes(p.code), 'data-filing-post': p.code }), p.code),
              )
            : [];
          const clearance = h(
            'select',
            { 'aria-label': t('clearance') },
            CLEARANCES.map((c) =>
              h('option', { value: c, selected: c === u.clearance, disabled: rank(c) > rank(ceiling) && c !== u.clearance }, rank(c) > rank(ceiling) ? `${c}${t('aboveCeiling', { ceiling })}` : c),
            ),
          );
          const apply = h('button.small', { type: 'button' }, t('apply'));
          apply.addEventListener(
            'click',
            busy(apply, listMsgs, async () => {
              const chosen = boxes
                .map((b) => b.querySelector('input'))
                .filter((i) => i.checked)
                .map((i) => i.value);
              const body = { posts: chosen, clearance: clearance.value };
              if (archivist)
                body.filingPosts = filing
                  .map((b) => b.querySelector('input'))
                  .filter((i) => i.checked)
                  .map((i) => i.value);
              await put(`/api/admin/users/${encodeURIComponent(u.username)}/access`, body);
              listMsgs.ok(`${u.username}: ${chosen.join(', ')} · ${clearance.value} ✓`);
            }),
          );
          return h(
            'tr',
            { 'data-user': u.username },
            h('td', u.username),
            h('td', u.roles.map((x) => t(`roleNames.${x}`)).join('、')),
            h('td.posts', boxes, archivist ? h('div.filing', { title: t('filingNote') }, h('small.muted', `${t('filingPosts')}：`), filing) : null),
            h('td', clearance),
            h('td', apply),
          );
        }),
      ),
    );
  }
  load();
}
