// 查阅人员: results as you type, facet filters with counts, paging, keyboard navigation.
import { get } from './api.js';
import { clear, debounce, h, safeMarks } from './dom.js';
import { t } from './i18n.js';
import { showError } from './ui.js';
import { bulkSharingBar, remoteHit, scopeSelect, st } from './sharing.js';
import { can } from './main.js';

const FACETS = [
  ['year', 'facetYear'],
  ['fonds', 'facetFonds'],
  ['department', 'facetDepartment'],
  ['retention', 'facetRetention'],
];
const LIMIT = 20;

const SORTS = ['relevance', 'date', 'archivalCode'];

/** 机构 codes by the names the server sent with the answer (the secadmin's table); else the code. */
function facetLabel(name, value, names) {
  if (name === 'retention') return t(`retentionNames.${value}`);
  if (name === 'department' && names?.[value]) return names[value];
  return value;
}

export function render(main, route) {
  const p = route.params;
  const state = {
    q: p.get('q') ?? '',
    sort: SORTS.includes(p.get('sort')) ? p.get('sort') : 'relevance',
    scope: p.get('scope') === 'federated' ? 'federated' : 'local',
    offset: Number(p.get('offset') ?? 0) || 0,
    // The person asked for the exact count of a long term's items (search/checked-page.ts).
    exact: p.get('exact') === '1',
    filters: Object.fromEntries(FACETS.map(([f]) => [f, p.get(f) ?? ''])),
  };
  const input = h('input', { id: 'search-input', type: 'search', value: state.q, placeholder: t('searchPlaceholder'), 'aria-label': t('searchLabel'), autocomplete: 'off' });
  const status = h('p.status', { id: 'search-status', 'aria-live': 'polite' });
  const sort = h(
    'select',
    { id: 'search-sort', 'aria-label': t('sortLabel') },
    SORTS.map((s) => h('option', { value: s, selected: state.sort === s }, t(`sortNames.${s}`))),
  );
  sort.addEventListener('change', () => {
    state.sort = sort.value;
    state.offset = 0;
    run();
  });
  const scope = scopeSelect(state.scope, (v) => {
    state.scope = v;
    state.offset = 0;
    run();
  });
  const facets = h('aside.facets', { id: 'facets', 'aria-label': 'filters' });
  const results = h('ol.results', { id: 'results' });
  const pager = h('nav.pager', { 'aria-label': 'pages' });
  const errors = h('div');
  // Archivists set the 共享范围 of several of this office's hits at once.
  const bulk = can('item:edit') ? bulkSharingBar() : undefined;
  clear(
    main,
    h('section.search', h('div.searchbar', input, scope, h('label.sort', t('sortLabel'), ' ', sort)), bulk?.el, errors, h('div.search-body', facets, h('div.search-main', status, results, pager))),
  );
  let seq = 0;

  const hash = () => {
    const q = new URLSearchParams();
    if (state.q) q.set('q', state.q);
    for (const [f] of FACETS) if (state.filters[f]) q.set(f, state.filters[f]);
    if (state.sort !== 'relevance') q.set('sort', state.sort);
    if (state.scope === 'federated') q.set('scope', 'federated');
    if (state.offset) q.set('offset', String(state.offset));
    if (state.exact) q.set('exact', '1');
    return `#/search${q.size ? `?${q}` : ''}`;
  };

  async function run() {
    const mine = ++seq;
    history.replaceState(null, '', hash());
    status.textContent = t('searching');
    // Screen readers (and tests) learn when the list they are on is about to be replaced.
    results.setAttribute('aria-busy', 'true');
    const q = new URLSearchParams({ q: state.q, offset: String(state.offset), limit: String(LIMIT) });
    for (const [f] of FACETS) if (state.filters[f]) q.set(f, state.filters[f]);
    if (state.sort !== 'relevance') q.set('sort', state.sort);
    if (state.scope === 'federated') q.set('federated', '1');
    else if (state.exact) q.set('exact', '1');
    let r;
    try {
      r = await get(`/api/search?${q}`);
    } catch (e) {
      if (mine !== seq) return;
      errors.replaceChildren();
      if (e?.code === 'SEARCH_BAD_PARAMS') {
        // Usually one character typed so far: a hint where the count goes, not an alarm over a list
        // that no longer matches the box.
        status.textContent = e.message;
        clear(results);
        clear(pager);
      } else {
        showError(errors, e);
        status.textContent = '';
      }
      results.setAttribute('aria-busy', 'false');
      return;
    }
    if (mine !== seq) return; // an older answer arriving late must not overwrite a newer one
    errors.replaceChildren();
    show(r);
    results.setAttribute('aria-busy', 'false');
  }

  function show(r) {
    // 联合检索 is offered only where an office code is set (the server says so with each answer).
    scope.hidden = r.federation === false && state.scope !== 'federated';
    status.textContent = r.total ? t('resultsCount', { total: r.total, from: r.offset + 1, to: r.offset + r.items.length }) : t('noResults');
    // A long term with more candidates than a search checks in full (search/checked-page.ts): the
    // hits shown are checked, the count is an estimate; the exact count is one click away.
    if (r.total && r.approximate) {
      if (r.approximateOfficeNames?.length) status.textContent += t('resultsApproxOffices', { offices: r.approximateOfficeNames.join('、') });
      else status.textContent += t(state.exact || state.scope === 'federated' ? 'resultsApproxMany' : 'resultsApprox');
      if (!state.exact && state.scope !== 'federated') {
        status.append(
          ' ',
          h(
            'button.link',
            {
              type: 'button',
              id: 'count-exact',
              onclick: () => {
                state.exact = true;
                run();
              },
            },
            t('countExact'),
          ),
        );
      }
    }
    // 联合检索: offices that did not answer are named, the others' hits stand.
    if (r.unanswered) status.textContent += `（${r.unanswered}）`;
    const terms = r.terms ?? [];
    clear(
      results,
      r.items.map((it) => {
        if (it.local === false) return remoteHit(it, t);
        const link = new URLSearchParams();
        if (state.q) link.set('q', state.q);
        for (const term of terms) link.append('t', term);
        link.set('page', String(it.pages?.[0] ?? it.snippetPage ?? 1));
        return h(
          'li.hit',
          { 'data-item': it.itemId },
          bulk?.checkbox(it.itemId),
          h('a.hit-link', { href: `#/item/${encodeURIComponent(it.itemId)}?${link}` }, h('span.code', it.archivalCode ?? it.itemId), ' ', h('span.title', safeMarks(it.titleHtml || it.title || ''))),
          h('div.meta', [
            it.year ? h('span', `${t('year')} ${it.year}`) : null,
            it.retention ? h('span', t(`retentionNames.${it.retention}`)) : null,
            it.department ? h('span', { title: it.department }, facetLabel('department', it.department, r.departmentNames)) : null,
            terms.length && it.pages?.length ? h('span.pages', t('pagesMatched', { pages: it.pages.join('、') })) : null,
            it.local ? h('span.office', st('ownOffice')) : null,
          ]),
          it.snippet ? h('p.snippet', safeMarks(it.snippet)) : null,
        );
      }),
    );
    clear(
      facets,
      FACETS.map(([f, label]) => {
        const counts = Object.entries(r.facets?.[f] ?? {}).sort((a, b) => (f === 'year' ? Number(b[0]) - Number(a[0]) : b[1] - a[1]));
        if (!counts.length && !state.filters[f]) return null;
        return h(
          'div.facet',
          { 'data-facet': f },
          h('h3', t(label)),
          h(
            'ul',
            counts.map(([value, n]) => {
              const on = state.filters[f] === value;
              return h(
                'li',
                h(
                  'button.facet-value',
                  {
                    type: 'button',
                    class: on ? 'on' : undefined,
                    'aria-pressed': on ? 'true' : 'false',
                    onclick: () => {
                      state.filters[f] = on ? '' : value;
                      state.offset = 0;
                      run();
                    },
                  },
                  h('span', { title: value }, facetLabel(f, value, r.departmentNames)),
                  h('span.count', String(n)),
                ),
              );
            }),
          ),
        );
      }),
      Object.values(state.filters).some(Boolean)
        ? h(
            'button.link',
            {
              type: 'button',
              onclick: () => {
                for (const [f] of FACETS) state.filters[f] = '';
                state.offset = 0;
                run();
              },
            },
            t('clearFilters'),
          )
        : null,
    );
    const prev = h(
      'button',
      {
        type: 'button',
        id: 'page-prev',
        disabled: state.offset === 0,
        onclick: () => {
          state.offset = Math.max(0, state.offset - LIMIT);
          run();
        },
      },
      t('prev'),
    );
    const next = h(
      'button',
      {
        type: 'button',
        id: 'page-next',
        // An estimated count may run past the last hit: a short page is the end.
        disabled: r.offset + r.items.length >= r.total || r.items.length < r.limit,
        onclick: () => {
          state.offset += LIMIT;
          run();
        },
      },
      t('next'),
    );
    clear(pager, prev, next);
  }

  const later = debounce(() => {
    state.offset = 0;
    run();
  }, 250);
  input.addEventListener('input', () => {
    state.q = input.value.trim();
    state.exact = false;
    later();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      if (state.q !== input.value.trim()) state.exact = false;
      state.q = input.value.trim();
      state.offset = 0;
      run();
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      results.querySelector('a.hit-link')?.focus();
    }
  });
  results.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const links = [...results.querySelectorAll('a.hit-link')];
    const i = links.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    if (e.key === 'ArrowUp' && i === 0) input.focus();
    else links[Math.min(links.length - 1, Math.max(0, i + (e.key === 'ArrowDown' ? 1 : -1)))].focus();
  });
  const slash = (e) => {
    if (e.key === '/' && document.activeElement !== input && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement?.tagName ?? '')) {
      e.preventDefault();
      input.focus();
    }
  };
  document.addEventListener('keydown', slash);
  input.focus();
  run();
  return () => document.removeEventListener('keydown', slash);
}
