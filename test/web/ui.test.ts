import { copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED, cleanup, readSetupToken, startServe, tempDir, untilServing, type ServeHandle } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';
import { launchChromium, logIn, screenshot, watchedPage, type Watched } from './browser.ts';

const SAMPLES = join(SHARED, 'samples');
const FIRST = 'Archive#2026-ok';
const NEXT = 'Archive#2027-ok';
/** A phrase printed on page 1 of S0003 (ground truth), which the OCR reads correctly. */
const PHRASE = '档案管理业务培训班';

describe('web UI in real Chromium against a real appliance (Meilisearch, clamd, OCR)', () => {
  let clamd: TestClamd;
  let app: ServeHandle;
  let browser: Browser;
  let work: string;
  const outside: string[] = [];
  const problems: string[] = [];
  const open: Watched[] = [];
  let s0003Id = '';

  const fresh = async (): Promise<Page> => {
    // One page at a time: an earlier step's page would go on checking its session, following job
    // events and adding audit records beside this one (on a loaded machine, and into the trail read last).
    for (const done of open.splice(0)) await done.context.close();
    const w = await watchedPage(browser, outside, problems);
    open.push(w);
    await w.page.goto(app.base);
    return w.page;
  };

  /** Log in; a first login goes through the forced password change. */
  const login = async (page: Page, username: string, password = FIRST) => {
    await logIn(page, username, password);
    if (password === FIRST && !['sysadm', 'secadm', 'auditr'].includes(username)) {
      await page.waitForSelector('#password-form');
      await page.fill('#pw-current', FIRST);
      await page.fill('#pw-new', NEXT);
      await page.fill('#pw-again', NEXT);
      await page.click('#pw-submit');
    }
    await page.waitForSelector('#logout');
  };

  beforeAll(async () => {
    work = await tempDir('archive-web-');
    clamd = await startTestClamd();
    app = await startServe({ ARCHIVE_CLAMD: clamd.address, ARCHIVE_LOG_LEVEL: 'warn' }, join(work, 'data'));
    await untilServing(app);
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const w of open) await w.context.close().catch(() => undefined);
    await browser?.close();
    await app?.stop();
    await clamd?.stop();
    await cleanup(work);
  });

  it('first start: the three administrators are created with the setup token; errors show the server message', async () => {
    // No terminal here: the token is in data/config/setup-token.txt (0600), not in the output.
    const token = await readSetupToken(app);
    const page = await fresh();
    await page.waitForSelector('#setup-form');
    // English is one click away, and back.
    await page.click('#lang-switch');
    await expect.poll(() => page.textContent('#login-submit')).toBe('Log in');
    await page.click('#lang-switch');
    await expect.poll(() => page.textContent('#login-submit')).toBe('登录');
    await screenshot(page, '01-login-setup');

    await page.fill('#setup-token', 'wrong-token');
    await page.selectOption('#setup-role', 'sysadmin');
    await page.fill('#setup-username', 'sysadm');
    await page.fill('#setup-password', FIRST);
    await page.click('#setup-submit');
    await expect.poll(() => page.textContent('#setup-form .error')).toContain('初始设置令牌无效');

    for (const [role, name] of [
      ['sysadmin', 'sysadm'],
      ['secadmin', 'secadm'],
      ['auditor', 'auditr'],
    ]) {
      await page.fill('#setup-token', token!);
      await page.selectOption('#setup-role', role);
      await page.fill('#setup-username', name);
      await page.fill('#setup-password', FIRST);
      await page.click('#setup-submit');
      await page.waitForSelector(`#setup-done:has-text("${name}")`);
    }
    await expect.poll(() => page.locator('#setup-form').count()).toBe(0);
    // A wrong password is refused with the server's words.
    await logIn(page, 'sysadm', 'nope-nope');
    await expect.poll(() => page.textContent('#login-form .error')).toContain('用户名或密码错误');
  });

  it('system administrator lands on accounts and health, and creates staff and archivist accounts', async () => {
    const page = await fresh();
    await login(page, 'sysadm');
    await page.waitForURL(/#\/system$/);
    await page.waitForSelector('#health [data-component="meilisearch"] .badge.ok');
    // Components are named in Chinese, not by their internal codes.
    expect(await page.textContent('#health [data-component="clamd"] th')).toBe('病毒扫描');
    await page.waitForSelector('#chart-disk');
    for (const [name, role] of [
      ['zhang', 'staff'],
      ['li', 'archivist'],
      ['wang', 'staff'],
    ]) {
      await page.fill('#new-username', name);
      await page.fill('#new-password', FIRST);
      await page.check(`#new-role-${role}`);
      await page.click('#create-user');
      await page.waitForSelector(`#users tr[data-user="${name}"]`);
    }
    // 三员: the system administrator may not make an auditor; the server says so, the page shows it.
    await page.fill('#new-username', 'nobody');
    await page.fill('#new-password', FIRST);
    await page.click('#create-user');
    // This answer, not the previous account's 已创建 still on the form.
    await page.waitForSelector('#create-user-form .ok:has-text("nobody"), #create-user-form .error');
    await page.click('#users tr[data-user="nobody"] button:has-text("停用")');
    await page.waitForSelector('#users tr[data-user="nobody"].disabled');
    await screenshot(page, '02-sysadmin');
  });

  it('security administrator creates posts and assigns them with clearances', async () => {
    const page = await fresh();
    await login(page, 'secadm');
    await page.waitForURL(/#\/security$/);
    for (const [code, name] of [
      ['BGS', '办公室'],
      ['ZH', '综合科'],
    ]) {
      await page.fill('#post-code', code);
      await page.fill('#post-name', name);
      await page.click('#create-post');
      await page.waitForSelector(`#posts tr[data-post="${code}"]`);
    }
    for (const [user, post] of [
      ['zhang', 'BGS'],
      ['li', 'BGS'],
      ['wang', 'ZH'],
    ]) {
      const row = page.locator(`#access tr[data-user="${user}"]`);
      await row.locator(`input[data-post="${post}"]`).check();
      await row.locator('select').selectOption('内部');
      await row.locator('button').click();
      await expect.poll(() => page.textContent('#access .messages')).toContain(`${user}: ${post}`);
    }
    await screenshot(page, '03-secadmin');
  });

  it('archivist uploads a folder of two items with a CSV and watches them finish; edits metadata', async () => {
    const batch = join(work, 'upload');
    await mkdir(batch, { recursive: true });
    await cp(join(SAMPLES, 'items/S0003'), join(batch, 'S0003'), { recursive: true });
    await copyFile(join(SAMPLES, 'items/S0005.pdf'), join(batch, 'S0005.pdf'));
    // A stray note in the folder is refused by name, without the server's staging path.
    await writeFile(join(batch, '说明.txt'), '扫描说明');
    const csv = join(work, 'items.csv');
    await writeFile(
      csv,
      '文件,档号,题名,日期,保管期限,密级,岗位\n' +
        'S0003,J012-2016-Y-BGS-0193,关于推进档案数字化建设情况的报告,2016-06-27,永久,内部,BGS\n' +
        'S0005.pdf,J220-2021-Y-SYDJ-0286,关于加强机构编制电子政务建设的调研报告,2021-05-23,永久,公开,BGS\n',
    );
    const page = await fresh();
    await login(page, 'li');
    await page.waitForURL(/#\/ingest$/);
    await page.setInputFiles('#folder-input', batch);
    await expect.poll(() => page.textContent('#selection-info')).toContain('3 件');
    await page.setInputFiles('#csv-input', csv);
    await page.fill('#posts-input', 'BGS');
    await page.click('#upload-submit');
    const card = page.locator('#live-jobs .job-card').first();
    await card.waitFor();
    const submitted = await page.textContent('#upload-form .messages');
    expect(submitted).toContain('不支持的文件类型：说明.txt');
    expect(submitted).not.toContain('/run/uploads/');
    await card.locator('[data-state="done"]').waitFor({ timeout: 240_000 });
    await expect.poll(() => card.locator('li[data-outcome="archived"]').count()).toBe(2);
    expect(await card.textContent()).toMatch(/页\/分钟/);
    await page.waitForSelector('#jobs-table tr[data-state="done"]');
    await page.waitForSelector('#chart-ingest-rate');
    await screenshot(page, '04-archivist-ingest');

    // Metadata editing: a bad 档号 is refused with the server's reason; a good edit is saved and re-indexed.
    await page.goto(`${app.base}/#/catalogue`);
    const row = page.locator('#catalogue-list tr', { hasText: 'J012-2016-Y-BGS-0193' });
    await row.waitFor();
    s0003Id = (await row.getAttribute('data-item'))!;
    await row.locator('a').click();
    await page.waitForSelector('#edit-form');
    await page.fill('#edit-archivalCode', 'not-a-code');
    await page.click('#edit-save');
    await expect.poll(() => page.textContent('#edit-form .error')).toContain('档号');
    await page.fill('#edit-archivalCode', 'J012-2016-Y-BGS-0193');
    await page.fill('#edit-responsible', '市档案局');
    await page.click('#edit-save');
    await expect.poll(() => page.textContent('#edit-form .ok')).toContain('已保存');
    await screenshot(page, '05-archivist-catalogue');
    // Re-OCR: queued as a job from the editor; the item is read again and kept under its id.
    await page.click('#edit-reocr');
    await expect.poll(() => page.textContent('#edit-form .ok')).toContain('重新识别任务');
    await expect
      .poll(
        () =>
          page.evaluate(async () =>
            ((await (await fetch('/api/jobs')).json()) as Array<{ state: string; via: string; itemsFinished: number }>).some((j) => j.via === 'reocr' && j.state === 'done' && j.itemsFinished === 1),
          ),
        { timeout: 180_000 },
      )
      .toBe(true);
    // Its own waits allow 240 s for the batch and 180 s for the re-OCR: the suite's 120 s default cut it short under load.
  }, 600_000);

  it('archivist sees a job whose every item failed as 失败 and a partly failed one as 部分失败, with no rate', async () => {
    const dir = join(work, 'failing');
    await mkdir(dir, { recursive: true });
    // Not an image at all: scanned clean, then cannot be decoded.
    await writeFile(join(dir, '坏页.jpg'), Buffer.alloc(4096, 0x42));
    await writeFile(join(dir, '坏页二.jpg'), Buffer.alloc(4096, 0x43));
    const page = await fresh();
    await login(page, 'li', NEXT);
    await page.waitForURL(/#\/ingest$/);
    const submit = async (files: string[]) => {
      const before = await page.locator('#live-jobs .job-card').count();
      await page.setInputFiles('#files-input', files);
      await page.fill('#posts-input', 'BGS');
      await page.click('#upload-submit');
      await page.waitForFunction((n) => document.querySelectorAll('#live-jobs .job-card').length > n || document.querySelector('#upload-form .messages .error'), before, { timeout: 30_000 });
      expect(await page.locator('#upload-form .messages .error').count(), (await page.textContent('#upload-form .messages')) ?? '').toBe(0);
      await expect.poll(() => page.locator('#live-jobs .job-card').count()).toBe(before + 1);
      const card = page.locator('#live-jobs .job-card').first();
      await card.locator('.badge[data-state="done"]').waitFor({ timeout: 60_000 });
      return { card, id: (await card.getAttribute('data-job'))! };
    };

    const all = await submit([join(dir, '坏页.jpg')]);
    const badge = all.card.locator('.badge');
    expect(await badge.getAttribute('data-verdict')).toBe('failed');
    expect(await badge.textContent()).toBe('失败');
    expect(await badge.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(207, 34, 46)');
    expect(await all.card.locator('li[data-outcome="failed"] .error').count()).toBe(1);
    expect(await all.card.textContent()).not.toMatch(/页\/分钟|预计剩余/);
    const allRow = page.locator(`#jobs-table tr[data-job="${all.id}"]`);
    await expect.poll(() => allRow.getAttribute('data-verdict')).toBe('failed');
    expect(await allRow.locator('.badge').textContent()).toBe('失败');

    // S0005.pdf is archived already (a duplicate, not a failure) beside a page that fails.
    const some = await submit([join(SAMPLES, 'items/S0005.pdf'), join(dir, '坏页二.jpg')]);
    expect(await some.card.locator('.badge').getAttribute('data-verdict')).toBe('partial');
    expect(await some.card.locator('.badge').textContent()).toBe('部分失败');
    expect(await some.card.locator('li[data-outcome="duplicate"]').count()).toBe(1);
    expect(await some.card.textContent()).not.toMatch(/页\/分钟/);
    const someRow = page.locator(`#jobs-table tr[data-job="${some.id}"]`);
    await expect.poll(() => someRow.getAttribute('data-verdict')).toBe('partial');
    expect(await someRow.locator('.badge').textContent()).toBe('部分失败');
    // The job that archived everything keeps its green 完成.
    expect(await page.locator('#jobs-table tr[data-verdict="done"] .badge.done').count()).toBeGreaterThan(0);
    await screenshot(page, '04b-archivist-failed-jobs');
  });

  it('staff searches a Chinese phrase, sees the highlight outlined on the scan, and downloads the PDF', async () => {
    const page = await fresh();
    await login(page, 'zhang');
    await page.waitForURL(/#\/search/);
    await page.locator('#search-input').pressSequentially(PHRASE, { delay: 20 });
    const hit = page.locator(`#results li.hit[data-item="${s0003Id}"]`);
    await hit.waitFor();
    expect(await hit.locator('.snippet mark').first().textContent()).toBeTruthy();
    expect(await page.locator('#facets [data-facet="year"]').textContent()).toContain('2016');
    // No office code here: 联合检索 is not offered (a choice that could only answer with an error).
    expect(await page.locator('#search-scope').isVisible()).toBe(false);
    await screenshot(page, '06-staff-search');
    // A facet narrows the query and says so in the address (a link can be shared).
    await page.click('#facets [data-facet="year"] button.facet-value');
    await expect.poll(() => page.url()).toContain('year=2016');
    // Wait for the filtered list itself, not the one it replaces (the keyboard step needs it).
    await page.waitForSelector('#results[aria-busy="false"]');
    await hit.waitFor();

    // Keyboard: arrow down from the box to the first hit, Enter opens it.
    await page.focus('#search-input');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/item\//);
    const rect = page.locator('#hit-overlay rect.hit').first();
    await rect.waitFor();
    const img = await page.locator('#page-image').boundingBox();
    const box = await rect.boundingBox();
    expect(img && box).toBeTruthy();
    // The outline lies on the displayed scan, at a plausible size for a line of text.
    expect(box!.x).toBeGreaterThanOrEqual(img!.x - 5);
    expect(box!.y).toBeGreaterThanOrEqual(img!.y - 5);
    expect(box!.x + box!.width).toBeLessThanOrEqual(img!.x + img!.width + 5);
    expect(box!.height).toBeGreaterThan(4);
    expect(box!.width).toBeGreaterThan(box!.height);
    expect(await page.locator('#page-text mark').count()).toBeGreaterThan(0);
    await screenshot(page, '07-staff-viewer');
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.textContent('#page-counter')).toContain('2');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-pdf')]);
    const pdf = await readFile((await download.path())!);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(10_000);
  });

  it('a staff user of another post finds nothing and cannot open the item', async () => {
    const page = await fresh();
    await login(page, 'wang');
    // One character so far: a quiet hint instead of a red alarm over the previous list.
    await page.locator('#search-input').fill(PHRASE.slice(0, 1));
    await expect.poll(() => page.textContent('#search-status')).toContain('至少需要两个字');
    expect(await page.locator('.search .error').count()).toBe(0);
    expect(await page.locator('#results li').count()).toBe(0);
    await page.locator('#search-input').fill(PHRASE);
    await expect.poll(() => page.textContent('#search-status')).toContain('没有找到');
    expect(await page.locator('#results li.hit').count()).toBe(0);
    // Not even a facet count gives the other post's items away, with or without a query.
    expect(await page.locator('#facets .facet').count()).toBe(0);
    await page.locator('#search-input').fill('');
    // The empty query's own answer (the address loses ?q= when it is asked), not the previous one's.
    await page.waitForURL(/#\/search$/);
    await page.waitForSelector('#results[aria-busy="false"]', { state: 'attached' }); // an empty list has no height
    expect(await page.textContent('#search-status')).toContain('没有找到');
    expect(await page.locator('#facets .facet').count()).toBe(0);
    await page.goto(`${app.base}/#/item/${encodeURIComponent(s0003Id)}`);
    await expect.poll(() => page.textContent('#main .error')).toContain('条目不存在或您无权查阅');
  });

  it('the auditor sees those actions in the trail, with the chain intact and search activity charted', async () => {
    const page = await fresh();
    await login(page, 'auditr');
    await page.waitForURL(/#\/audit$/);
    await expect.poll(() => page.textContent('#chain-status')).toContain('✓');
    await expect.poll(() => page.textContent('#chain-seals')).toContain('未核验封印');
    // The verification key waits for the auditor: text and a QR code (rendered by the server,
    // loaded under the strict CSP), taken away, confirmed, erased; then the seals verified with it.
    const vkText = (await page.locator('#seal-key-text').textContent())!;
    const vk = vkText.replace(/\s+/g, '');
    expect(vk).toMatch(/^ARCHIVE-AUDIT-VK1-[0-9a-f]{64}-[0-9a-f]{8}$/);
    await expect.poll(() => page.locator('#seal-key-waiting img').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    page.once('dialog', (d) => void d.accept());
    await page.click('#seal-key-taken');
    await page.waitForSelector('#seal-key-none');
    await page.fill('#seal-paste', vkText);
    await page.click('#seal-verify');
    await expect.poll(() => page.textContent('#seal-status')).toContain('✓');
    expect(await page.textContent('#seal-summary')).toMatch(/封印全部核验通过|尚无封印/);
    await page.waitForSelector('#chart-search-activity rect.bar', { state: 'attached' });
    // zhang's searches are in the last hour's bar.
    expect(await page.locator('#chart-search-activity rect.bar').evaluateAll((rs) => rs.some((r) => Number(r.getAttribute('height')) > 0))).toBe(true);
    const trail = page.locator('#audit-records');
    // Each looked up with the page's own filters: the newest 200 records alone do not reach back to
    // the first accounts once the steps above have been audited long enough (a loaded machine types slower).
    for (const [actor, action] of [
      ['sysadm', 'user.create'],
      ['secadm', 'post.create'],
      ['secadm', 'user.access'],
      ['li', 'ingest.submit'],
      ['li', 'item.edit'],
      ['zhang', 'item.search'],
      ['zhang', 'item.page.view'],
      ['zhang', 'item.download'],
      ['wang', 'item.view'],
    ]) {
      await page.fill('#audit-actor', actor);
      await page.selectOption('#audit-action', action);
      await page.click('#audit-filter');
      await expect.poll(() => trail.locator(`tr[data-actor="${actor}"][data-action="${action}"]`).count(), { message: `${actor} ${action}` }).toBeGreaterThan(0);
    }
    expect(await trail.locator('tr[data-actor="wang"][data-action="item.view"].denied').count()).toBeGreaterThan(0);
    await page.fill('#audit-actor', 'zhang');
    await page.selectOption('#audit-action', '');
    await page.click('#audit-filter');
    await expect.poll(async () => [...new Set(await trail.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-actor'))))]).toEqual(['zhang']);
    await screenshot(page, '08-auditor');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#audit-export')]);
    const lines = (await readFile((await download.path())!, 'utf8')).trim().split('\n');
    expect(lines.some((l) => l.includes('"item.download"'))).toBe(true);
  });

  it('nothing left 127.0.0.1 and no page error or CSP violation happened', () => {
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
  });
});
