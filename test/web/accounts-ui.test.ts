import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../security/support.ts';
import { cleanup, readSetupToken, startServe, untilServing, type ServeHandle } from '../support/appliance.ts';
import { launchChromium, logIn, screenshot, watchedPage, type Watched } from './browser.ts';

// Accounts in real Chromium against a real `archive serve`: a locked account shown as 已锁定 and
// unlocked by the system administrator, only the actions the role may take, the reset dialog, the
// security officer confirming the reset, and an ended session saying so and returning to the login.

const PW = 'Archive#2026-ok';
const NEXT = 'Archive#2027-ok';
const RESET = 'Reset#by-sys-2026';

describe('accounts in the browser', () => {
  let app: ServeHandle;
  let browser: Browser;
  const outside: string[] = [];
  const problems: string[] = [];
  const open: Watched[] = [];

  const fresh = async (): Promise<Page> => {
    const w = await watchedPage(browser, outside, problems);
    open.push(w);
    await w.page.goto(app.base);
    return w.page;
  };
  const api = async (username: string, password: string) => {
    const c = new Client(app.base);
    const r = await c.login(username, password);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return c;
  };

  beforeAll(async () => {
    app = await startServe({ ARCHIVE_LOG_LEVEL: 'warn' });
    await untilServing(app);
    const token = await readSetupToken(app);
    const setup = new Client(app.base);
    await setup.get('/api/auth/csrf');
    for (const [role, username] of [
      ['sysadmin', 'sysadm'],
      ['secadmin', 'secadm'],
      ['auditor', 'auditr'],
    ]) {
      expect((await setup.req('POST', '/api/auth/setup', { token, username, password: PW, role })).status).toBe(201);
    }
    const sys = await api('sysadm', PW);
    for (const u of ['zhang', 'wang']) expect((await sys.req('POST', '/api/admin/users', { username: u, password: PW, roles: ['staff'] })).status).toBe(201);
    const sec = await api('secadm', PW);
    expect((await sec.req('POST', '/api/admin/posts', { code: 'BGS', name: '办公室' })).status).toBe(201);
    for (const u of ['zhang', 'wang']) expect((await sec.req('PUT', `/api/admin/users/${u}/access`, { posts: ['BGS'], clearance: '内部' })).status).toBe(200);
    for (const u of ['zhang', 'wang']) {
      const c = await api(u, PW);
      expect((await c.req('POST', '/api/auth/password', { current: PW, next: NEXT })).status).toBe(200);
    }
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    for (const w of open) await w.context.close().catch(() => undefined);
    await browser?.close();
    await app?.stop();
    if (app) await cleanup(app.dataDir);
  });

  it('a locked account shows 已锁定 with 解锁 for the system administrator; officers’ rows offer no actions', async () => {
    for (let i = 0; i < 5; i++) await new Client(app.base).login('zhang', 'Wrong#guess-2026');
    expect((await new Client(app.base).login('zhang', NEXT)).status).toBe(429);

    const page = await fresh();
    await logIn(page, 'sysadm', PW);
    await page.waitForSelector('tr[data-user="zhang"]');
    const row = page.locator('tr[data-user="zhang"]');
    await expect.poll(() => row.locator('td.status').textContent(), { timeout: 20_000 }).toContain('已锁定');
    // Officers' accounts: neither 停用 nor 重置密码 nor 解锁 for the system administrator.
    for (const officer of ['secadm', 'auditr']) {
      const o = page.locator(`tr[data-user="${officer}"] td.actions`);
      expect(await o.locator('button').count()).toBe(0);
    }
    // The flag is explained.
    expect(await page.textContent('#users-legend')).toContain('⚑');
    await screenshot(page, 'accounts-locked');

    await row.locator('button.unlock').click();
    await expect.poll(() => row.locator('td.status').textContent(), { timeout: 20_000 }).toBe('正常');
    expect((await new Client(app.base).login('zhang', NEXT)).status).toBe(200);
  });

  it('password reset in a masked dialog typed twice; the user is told; the security officer confirms', async () => {
    const page = await fresh();
    await logIn(page, 'sysadm', PW);
    const row = page.locator('tr[data-user="zhang"]');
    await row.locator('button.reset').click();
    await page.waitForSelector('#reset-dialog[open]');
    expect(await page.getAttribute('#reset-password', 'type')).toBe('password');
    expect(await page.getAttribute('#reset-again', 'type')).toBe('password');
    await page.fill('#reset-password', RESET);
    await page.fill('#reset-again', `${RESET}x`);
    await page.click('#reset-submit');
    await expect.poll(() => page.textContent('#reset-dialog .error'), { timeout: 20_000 }).toContain('两次输入的新密码不');
    await page.fill('#reset-again', RESET);
    await page.click('#reset-submit');
    await expect.poll(() => page.locator('#reset-dialog').count(), { timeout: 20_000 }).toBe(0);
    await expect.poll(() => row.locator('td.status').textContent(), { timeout: 20_000 }).toContain('待确认重置');
    expect(await row.locator('td.status').textContent()).toContain('⚑');

    // The user: told that a reset happened, and that access waits for the security officer.
    const user = await fresh();
    await logIn(user, 'zhang', RESET);
    await user.waitForSelector('#password-form #reset-notice');
    expect(await user.textContent('#reset-notice')).toContain('安全保密管理员确认');
    await user.fill('#pw-current', RESET);
    await user.fill('#pw-new', NEXT);
    await user.fill('#pw-again', NEXT);
    await user.click('#pw-submit');
    await user.waitForSelector('#reset-notice');
    expect(await user.textContent('#reset-notice')).toContain('须待安全保密管理员确认');
    await screenshot(user, 'accounts-reset-notice');

    // The security officer sees the reset awaiting confirmation and confirms it.
    const sec = await fresh();
    await logIn(sec, 'secadm', PW);
    const pending = sec.locator('#resets tr[data-user="zhang"]');
    await pending.waitFor();
    await pending.locator('button.confirm-reset').click();
    await expect.poll(() => sec.textContent('#resets'), { timeout: 20_000 }).toContain('没有待确认的密码重置');
    // Posts: renamed and disabled in place (no delete); clearances above the ceiling not offered.
    const postRow = sec.locator('#posts tr[data-post="BGS"]');
    await postRow.locator('input.post-name').fill('办公室（综合）');
    await postRow.locator('button.rename').click();
    await expect.poll(async () => sec.locator('#posts tr[data-post="BGS"] input.post-name').inputValue(), { timeout: 20_000 }).toBe('办公室（综合）');
    expect(await sec.locator('#access tr[data-user="zhang"] option[value="秘密"]').getAttribute('disabled')).not.toBeNull();
    expect(await sec.locator('#access tr[data-user="zhang"] option[value="秘密"]').textContent()).toContain('高于本机上限');
    // Back to the user: search is open again.
    await user.reload();
    await user.waitForURL(/#\/search$/);
    await user.waitForSelector('#search-input');
  });

  it('when the session ends (account disabled) the page says 会话已失效，请重新登录 and shows the login', async () => {
    const page = await fresh();
    await logIn(page, 'wang', NEXT);
    await page.waitForSelector('#logout');
    const sys = await api('sysadm', PW);
    expect((await sys.req('POST', '/api/admin/users/wang/disable')).status).toBe(200);
    await page.waitForSelector('#session-lost', { timeout: 30_000 });
    expect(await page.textContent('#session-lost')).toContain('会话已失效，请重新登录');
    expect(await page.locator('#login-form').count()).toBe(1);
    await screenshot(page, 'accounts-session-lost');
  });

  it('a restart keeps the session, and a page opened while the appliance is down arrives once it is back', async () => {
    const w = await watchedPage(browser, outside, problems);
    open.push(w);
    const page = w.page;
    await page.goto(`${app.base}/#/item/J000-2000-Y-NONE-0001`);
    await logIn(page, 'zhang', NEXT);
    // The viewer page itself, not only the header (which is drawn before the page's module arrives).
    await expect.poll(() => page.textContent('#main .error')).toContain('条目不存在或您无权查阅');
    const data = app.dataDir;
    const addr = new URL(app.base).host;
    await app.stop();
    // Down: the search page's module cannot be fetched. The page says so and keeps trying.
    await page.evaluate(() => (location.hash = '#/search'));
    await page.waitForSelector('#page-retrying');
    expect(await page.textContent('#page-retrying')).toContain('服务暂时不可用，正在重试');
    // The same address, as after `systemctl restart`: the page comes back by itself, without a reload or a new login.
    app = await startServe({ ARCHIVE_LOG_LEVEL: 'warn', ARCHIVE_HTTP_ADDR: addr }, data);
    await page.waitForSelector('#search-input', { timeout: 120_000 });
    await page.locator('#search-input').fill('档案');
    await expect.poll(() => page.textContent('#search-status')).toContain('没有找到');
    expect(await page.locator('#session-lost').count()).toBe(0);
    expect(await page.locator('#page-retrying, #page-unavailable').count()).toBe(0);
    expect(outside).toEqual([]);
    // Expected: refused connections while the appliance was down (the page's module and its session
    // check), and /api/health's 503 on the officers' pages (no clamd runs in this test).
    expect(problems.filter((p) => !/ERR_CONNECTION_REFUSED|status of 503/.test(p))).toEqual([]);
  }, 240_000);
});
