// 安全保密管理员: the 机构代码→名称 table (config/departments.json). The search page's 机构 filter
// and hit lines show these names; a code without a name is shown as the code.
import { get, put } from './api.js';
import { clear, h } from './dom.js';
import { t } from './i18n.js';
import { busy, messageArea } from './ui.js';

export function departmentsPanel() {
  const msgs = messageArea();
  const rowsBox = h('tbody', { id: 'department-rows' });
  const add = h('button', { type: 'button', id: 'department-add' }, t('addDepartment'));
  const save = h('button.primary', { type: 'submit', id: 'department-save' }, t('saveDepartments'));
  const row = (code = '', name = '') =>
    h(
      'tr',
      h('td', h('input.dept-code', { value: code, maxlength: 16, 'aria-label': t('departmentCode') })),
      h('td', h('input.dept-name', { value: name, maxlength: 64, 'aria-label': t('departmentName') })),
    );
  const form = h(
    'form.card',
    { id: 'departments' },
    h('h2', t('departmentsTitle')),
    h('p.muted', t('departmentsNote')),
    msgs.el,
    h('table', h('thead', h('tr', h('th', t('departmentCode')), h('th', t('departmentName')))), rowsBox),
    h('div.row.actions', add, save),
  );
  add.addEventListener('click', () => rowsBox.append(row()));
  form.addEventListener(
    'submit',
    busy(save, msgs, async () => {
      const names = {};
      for (const tr of rowsBox.querySelectorAll('tr')) {
        const code = tr.querySelector('.dept-code').value.trim();
        if (code) names[code] = tr.querySelector('.dept-name').value.trim();
      }
      const r = await put('/api/admin/departments', { names });
      show(r.names);
      msgs.ok(t('saved'));
    }),
  );
  function show(names) {
    clear(
      rowsBox,
      Object.entries(names).map(([c, n]) => row(c, n)),
      row(),
    );
  }
  async function load() {
    try {
      show((await get('/api/admin/departments')).names);
    } catch (e) {
      msgs.error(e);
    }
  }
  load();
  return { el: form, load };
}
