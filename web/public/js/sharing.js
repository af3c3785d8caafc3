// 联合检索 on the pages: 共享范围 in the catalogue form and on the item page, the 本单位 / 联合检索
// choice and remote hits on the search page, the secadmin's sharing policy.
import { get, post, put } from './api.js';
import { clear, h, safeMarks } from './dom.js';
import { lang } from './i18n.js';
import { busy, messageArea } from './ui.js';

const WORDS = {
  'zh-CN': {
    sharing: '共享范围',
    scopes: { office: '本单位', parent: '上级', all: '全辖区' },
    sharingHint: '本单位：不出本单位；上级：上级单位可检索；全辖区：联合检索的各单位可检索（均在安全保密管理员的共享策略之内）',
    searchScope: '检索范围',
    searchScopes: { local: '本单位', federated: '联合检索' },
    heldBy: '由 {office} 保管',
    ownOffice: '本单位',
    notOpenable: '其他单位保管的档案不能在此打开',
    shared: '已共享：{scope}',
    notShared: '未共享：{reason}',
    policyTitle: '联合检索共享策略',
    policyNote: '勾选允许共享的密级；岗位留空表示所有岗位的条目均可共享（每个岗位须在允许之列）。收窄策略时，相关条目先从共享索引撤下并确认后才保存。',
    policyClassifications: '允许共享的密级',
    policyPosts: '允许共享的岗位（逗号分隔，留空为全部）',
    policySave: '保存共享策略',
    policySaved: '已保存；撤下 {n} 件',
    policyShared: '本单位代码 {office}，当前共享 {n} 件',
    policyNoOffice: '尚未设置本单位代码（office.code），本设备不共享任何条目',
    bulkPick: '选中此条目以批量设置共享范围',
    bulkChosen: '已选 {n} 件',
    bulkApply: '设置共享范围',
    bulkDone: '已将 {n} 件设为「{scope}」',
    bulkClear: '取消选择',
    bulkNoOffice: '（本设备未设置单位代码，暂不对外共享）',
  },
  en: {
    sharing: 'Sharing',
    scopes: { office: 'This office', parent: 'Parent office', all: 'All offices' },
    sharingHint: 'This office: never leaves; parent: searchable by the parent office; all: by every joined office (within the security officer’s sharing policy)',
    searchScope: 'Search in',
    searchScopes: { local: 'This office', federated: 'All joined offices' },
    heldBy: 'Held by {office}',
    ownOffice: 'This office',
    notOpenable: 'Items held by another office cannot be opened here',
    shared: 'Shared: {scope}',
    notShared: 'Not shared: {reason}',
    policyTitle: 'Sharing policy (federated search)',
    policyNote:
      'Tick the classifications that may be shared; leave posts empty for every post (each of an item’s posts must be allowed). A narrower policy withdraws items from the shared index before it is saved.',
    policyClassifications: 'Classifications that may be shared',
    policyPosts: 'Posts whose items may be shared (comma separated, empty = all)',
    policySave: 'Save sharing policy',
    policySaved: 'Saved; {n} items withdrawn',
    policyShared: 'Office code {office}, {n} items shared',
    policyNoOffice: 'No office code (office.code) set: nothing is shared',
    bulkPick: 'Select this item to set its sharing with others',
    bulkChosen: '{n} selected',
    bulkApply: 'Set sharing',
    bulkDone: '{n} items set to “{scope}”',
    bulkClear: 'Clear selection',
    bulkNoOffice: ' (no office code is set here: nothing is shared yet)',
  },
};

export function st(key, vars) {
  let v = key.split('.').reduce((o, k) => (o ? o[k] : undefined), WORDS[lang()] ?? WORDS['zh-CN']) ?? key;
  if (typeof v === 'string' && vars) v = v.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
  return v;
}

/** The 共享范围 select of the catalogue form. */
export function sharingSelect(value) {
  return h(
    'select',
    { name: 'sharing', id: 'edit-sharing', title: st('sharingHint') },
    ['office', 'parent', 'all'].map((s) => h('option', { value: s, selected: s === (value ?? 'office') }, st(`scopes.${s}`))),
  );
}

/**
 * 批量设置共享范围 on the search page: an archivist ticks hits of this office and sets their scope in
 * one request (all or nothing on the server: every item must be one they may see and file).
 */
export function bulkSharingBar(onDone) {
  const chosen = new Set();
  const msgs = messageArea();
  const count = h('span.bulk-count', { id: 'bulk-count' });
  const scope = sharingSelect('office');
  scope.id = 'bulk-sharing';
  const apply = h('button.primary', { type: 'button', id: 'bulk-apply' }, st('bulkApply'));
  const boxes = new Map();
  const refresh = () => {
    count.textContent = st('bulkChosen', { n: chosen.size });
    bar.hidden = chosen.size === 0 && !msgs.el.childElementCount;
    apply.disabled = chosen.size === 0;
  };
  const reset = h(
    'button.link',
    {
      type: 'button',
      onclick: () => {
        chosen.clear();
        for (const b of boxes.values()) b.checked = false;
        msgs.clear();
        refresh();
      },
    },
    st('bulkClear'),
  );
  const bar = h('div.bulk-bar', { id: 'bulk-sharing-bar' }, count, ' ', h('label', st('sharing'), ' ', scope), ' ', apply, ' ', reset, msgs.el);
  apply.addEventListener(
    'click',
    busy(apply, msgs, async () => {
      const r = await post('/api/items/sharing', { itemIds: [...chosen], sharing: scope.value });
      chosen.clear();
      for (const b of boxes.values()) b.checked = false;
      msgs.ok(st('bulkDone', { n: r.items.length, scope: st(`scopes.${r.sharing}`) }) + (r.office || r.sharing === 'office' ? '' : st('bulkNoOffice')));
      refresh();
      onDone?.();
    }),
  );
  refresh();
  return {
    el: bar,
    /** The tick box of one hit (remembered across result pages until applied or cleared). */
    checkbox(itemId) {
      const box = h('input.bulk-pick', { type: 'checkbox', 'aria-label': st('bulkPick'), 'data-item': itemId, checked: chosen.has(itemId) });
      box.addEventListener('change', () => {
        if (box.checked) chosen.add(itemId);
        else chosen.delete(itemId);
        refresh();
      });
      boxes.set(itemId, box);
      return box;
    },
  };
}

/** The item page's line: how far the item is shared, or why not (本单位, 超出共享策略). */
export function sharingInfo(id) {
  const dd = h('dd', { id: 'item-sharing' }, '…');
  get(`/api/items/${encodeURIComponent(id)}/sharing`)
    .then((s) => {
      dd.textContent = s.effective !== 'office' ? st('shared', { scope: st(`scopes.${s.effective}`) }) : st('notShared', { reason: s.reasonText ?? st('scopes.office') });
    })
    .catch(() => dd.parentElement?.remove());
  return h('div.meta-row', h('dt', st('sharing')), dd);
}

/** The 本单位 / 联合检索 select of the search page. */
export function scopeSelect(value, onChange) {
  const sel = h(
    'select',
    { id: 'search-scope', 'aria-label': st('searchScope') },
    ['local', 'federated'].map((s) => h('option', { value: s, selected: s === value }, st(`searchScopes.${s}`))),
  );
  sel.addEventListener('change', () => onChange(sel.value));
  return h('label.sort', st('searchScope'), ' ', sel);
}

/** A hit held by another office: catalogue data, matching pages and snippet; not a link (a later 调阅 request). */
export function remoteHit(it, t) {
  return h(
    'li.hit.remote',
    { 'data-item': it.itemId, 'data-office': it.office },
    h(
      'div.hit-link',
      { title: st('notOpenable') },
      h('span.code', it.archivalCode ?? it.itemId),
      ' ',
      h('span.title', safeMarks(it.titleHtml || it.title || '')),
      ' ',
      h('span.office', st('heldBy', { office: it.officeName })),
    ),
    h('div.meta', [
      it.year ? h('span', `${t('year')} ${it.year}`) : null,
      it.classification ? h('span', it.classification) : null,
      it.pages?.length ? h('span.pages', t('pagesMatched', { pages: it.pages.join('、') })) : null,
    ]),
    it.snippet ? h('p.snippet', safeMarks(it.snippet)) : null,
  );
}

/** The 安全保密管理员's sharing policy. */
export function sharingPolicyPanel() {
  const msgs = messageArea();
  const levels = ['公开', '内部', '秘密', '机密', '绝密'];
  const boxes = levels.map((c) => h('input', { type: 'checkbox', value: c, class: 'policy-classification' }));
  const posts = h('input', { id: 'policy-posts', autocomplete: 'off' });
  const info = h('p.muted', { id: 'policy-info' });
  const save = h('button.primary', { type: 'submit', id: 'policy-save' }, st('policySave'));
  const form = h(
    'form.card',
    { id: 'sharing-policy' },
    h('h2', st('policyTitle')),
    h('p.muted', st('policyNote')),
    info,
    msgs.el,
    h(
      'fieldset',
      h('legend', st('policyClassifications')),
      boxes.map((b) => h('label', b, ' ', b.value, ' ')),
    ),
    h('label', st('policyPosts'), posts),
    save,
  );
  form.addEventListener(
    'submit',
    busy(save, msgs, async () => {
      const list = posts.value.split(/[,，;；、\s]+/).filter(Boolean);
      const r = await put('/api/sharing/policy', { classifications: boxes.filter((b) => b.checked).map((b) => b.value), posts: list.length ? list : null });
      msgs.ok(st('policySaved', { n: r.withdrawn }));
      await load();
    }),
  );
  async function load() {
    try {
      const r = await get('/api/sharing/policy');
      for (const b of boxes) b.checked = r.policy.classifications.includes(b.value);
      posts.value = (r.policy.posts ?? []).join(', ');
      clear(info, r.office ? st('policyShared', { office: r.office, n: r.shared ?? '?' }) : st('policyNoOffice'));
    } catch (e) {
      // Not this appliance's feature (no shared index) or not this person's: the panel goes.
      if (e?.status === 404 || e?.code === 'NOT_FOUND') form.remove();
      else msgs.error(e);
    }
  }
  load();
  return { el: form, load };
}
