// The shell: who is logged in, the navigation their roles allow, and a hash router over pages.
import { get, post, whenAuthLost } from './api.js';
import { clear, h } from './dom.js';
import { lang, setLang, t } from './i18n.js';
import { showLogin, showPasswordChange } from './login.js';
import { showError } from './ui.js';
import { showDemoBanner } from './demo-banner.js';
import { importPage } from './page-loader.js';

const PAGES = {
  search: { perm: 'item:search', nav: 'navSearch', load: () => import('./search.js') },
  item: { perm: 'item:read', load: () => import('./viewer.js') },
  ingest: { perm: 'item:ingest', nav: 'navIngest', load: () => import('./ingest.js') },
  catalogue: { perm: 'item:edit', nav: 'navCatalogue', load: () => import('./catalogue.js') },
  system: { perm: 'user:create', nav: 'navSystem', load: () => import('./system.js') },
  security: { perm: 'post:manage', nav: 'navSecurity', load: () => import('./security.js') },
  audit: { perm: 'audit:read', nav: 'navAudit', load: () => import('./audit.js') },
};

/** Each role lands on its own page. */
const HOME = { sysadmin: 'system', secadmin: 'security', auditor: 'audit', archivist: 'ingest', staff: 'search' };

const state = { me: undefined, cleanup: undefined, heartbeat: undefined };
/** Set while this tab is logged in: a 401 at the next start means the session ended (not a first visit). */
const SESSION_FLAG = 'archive.session';
const main = document.getElementById('main');
const top = document.getElementById('top');

export function me() {
  return state.me;
}

export function can(perm) {
  return Boolean(state.me?.permissions?.includes(perm));
}

function homeOf(m) {
  const role = ['sysadmin', 'secadmin', 'auditor', 'archivist', 'staff'].find((r) => m.user.roles.includes(r));
  return role ? HOME[role] : 'search';
}

export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const [name, ...rest] = path.split('/');
  return { name: name || '', arg: rest.map(decodeURIComponent).join('/'), params: new URLSearchParams(query) };
}

function header() {
  const m = state.me;
  const current = parseHash().name;
  const langBtn = h(
    'button.link',
    {
      type: 'button',
      id: 'lang-switch',
      onclick: () => {
        setLang(lang() === 'en' ? 'zh-CN' : 'en');
        start();
      },
    },
    t('language'),
  );
  if (!m) return clear(top, h('div.brand', t('appName')), h('div.spacer'), langBtn);
  const nav = h(
    'nav',
    { 'aria-label': 'main' },
    Object.entries(PAGES)
      .filter(([, p]) => p.nav && can(p.perm))
      .map(([name, p]) => h('a', { href: `#/${name}`, class: name === current ? 'active' : undefined, 'aria-current': name === current ? 'page' : undefined }, t(p.nav))),
  );
  const who = h('span.who', `${m.user.displayName || m.user.username} · ${m.user.roles.map((r) => t(`roleNames.${r}`)).join('、')}`);
  const out = h('button.link', { type: 'button', id: 'logout', onclick: logout }, t('logout'));
  clear(top, h('div.brand', t('appName')), nav, h('div.spacer'), who, langBtn, out);
}

async function logout() {
  clearInterval(state.heartbeat);
  routeSeq++; // a page still loading (or retrying) must not render over the login
  sessionStorage.removeItem(SESSION_FLAG);
  try {
    await post('/api/auth/logout');
  } catch {
    /* the session may already be gone */
  }
  state.me = undefined;
  location.hash = '';
  start();
}

let routeSeq = 0;

async function route() {
  // A page whose module arrives after the address moved on must not render over the newer page.
  const mine = ++routeSeq;
  state.cleanup?.();
  state.cleanup = undefined;
  const m = state.me;
  if (!m) return;
  let { name } = parseHash();
  if (m.user.resetPending && (!PAGES[name] || !can(PAGES[name].perm)) && !can(PAGES[homeOf(m)].perm)) {
    // Item access is held back until the security officer confirms the reset: say so, in place of the page.
    header();
    clear(main, resetNotice(m));
    return;
  }
  if (!PAGES[name] || !can(PAGES[name].perm)) {
    location.replace(`#/${homeOf(m)}`);
    return;
  }
  header();
  clear(main, h('p.muted', '…'));
  try {
    // While the appliance restarts the module cannot be fetched: say so and keep trying.
    const got = await importPage(PAGES[name].load, {
      stillWanted: () => mine === routeSeq,
      onWaiting: () => clear(main, h('p.notice', { id: 'page-retrying', role: 'status' }, t('pageRetrying'))),
    });
    if (mine !== routeSeq || got.stale) return;
    if (got.unavailable) {
      clear(main, h('div.card', { id: 'page-unavailable' }, h('p', { role: 'alert' }, t('pageUnavailable')), h('button', { type: 'button', id: 'page-retry', onclick: () => route() }, t('retry'))));
      return;
    }
    const mod = got.module;
    const cleanup = await mod.render(main, parseHash());
    state.cleanup = typeof cleanup === 'function' ? cleanup : undefined;
  } catch (e) {
    if (mine !== routeSeq) return;
    clear(main);
    showError(main, e);
    // A server refusal is shown and expected; anything else is a fault in this client.
    if (!e?.code) console.error(e);
  }
}

/** The notice a user sees after an administrator reset their password, until the secadmin confirms. */
export function resetNotice(m) {
  const r = m.user.resetPending;
  const time = r?.at ? new Date(r.at).toLocaleString() : '';
  return h(
    'div.card.notice',
    { id: 'reset-notice', role: 'status' },
    h('h2', t('resetNoticeTitle')),
    h('p', t('resetNotice', { by: r?.by ?? '', time })),
    m.mustChangePassword ? null : h('p', t('resetNoticeWaiting')),
  );
}

/** Every few seconds: is the session still alive? (Does not count as activity on the server.) */
function watchSession() {
  clearInterval(state.heartbeat);
  state.heartbeat = setInterval(async () => {
    if (!state.me) return;
    let alive;
    try {
      const res = await fetch('/api/auth/alive', { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (!res.ok) return;
      alive = (await res.json()).alive;
    } catch {
      return; // the appliance is restarting or unreachable: ask again later
    }
    if (alive === false) sessionLost();
  }, 5_000);
}

/** The session ended (restart, idle, disabled, changed): say so and return to the login. */
function sessionLost() {
  clearInterval(state.heartbeat);
  routeSeq++; // a page still loading (or retrying) must not render over the login
  sessionStorage.removeItem(SESSION_FLAG);
  state.cleanup?.();
  state.cleanup = undefined;
  state.me = undefined;
  header();
  showLogin(main, loggedIn, t('sessionLost'));
}

/** After login (or a password change) the answer of /api/auth/login|me says who this is. */
export function loggedIn(m) {
  state.me = m;
  sessionStorage.setItem(SESSION_FLAG, '1');
  watchSession();
  if (m.mustChangePassword) {
    header();
    showPasswordChange(main, loggedIn, m);
    return;
  }
  if (!location.hash || location.hash === '#' || location.hash === '#/') {
    location.replace(`#/${homeOf(m)}`); // hashchange routes
    return;
  }
  route();
}

async function start() {
  document.title = t('appName');
  try {
    loggedIn(await get('/api/auth/me'));
  } catch (e) {
    if (e?.status === 401 && sessionStorage.getItem(SESSION_FLAG)) return sessionLost();
    state.me = undefined;
    header();
    showLogin(main, loggedIn);
  }
}

whenAuthLost(() => sessionLost());
window.addEventListener('hashchange', () => state.me && !state.me.mustChangePassword && route());
start();
showDemoBanner();
