import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED, cleanup, runCli, startServe, tempDir, untilServing, type ServeHandle } from '../support/appliance.ts';
import { startTestClamd, type TestClamd } from '../support/clamd.ts';
import { launchChromium, logIn, watchedPage, type Watched } from './browser.ts';

const PASSWORD = 'Archive#2026-ok';

/** Issue #22: CSV errors as one line per problem with line and column, no server paths; a template to download. */
describe('采集: CSV problems and the CSV template in real Chromium', () => {
  let clamd: TestClamd;
  let app: ServeHandle;
  let browser: Browser;
  let work: string;
  const outside: string[] = [];
  const problems: string[] = [];
  let w: Watched | undefined;

  beforeAll(async () => {
    work = await tempDir('archive-csv-ui-');
    clamd = await startTestClamd();
    const dataDir = join(work, 'data');
    app = await startServe({ ARCHIVE_CLAMD: clamd.address, ARCHIVE_LOG_LEVEL: 'warn' }, dataDir);
    await untilServing(app);
    const env = { ARCHIVE_DATA_DIR: dataDir };
    expect((await runCli(['post', 'add', 'BGS', '办公室'], env)).code).toBe(0);
    await writeFile(join(work, 'pw'), PASSWORD);
    const add = await runCli(['user', 'add', 'amy', '--role', 'archivist', '--posts', 'BGS', '--clearance', '内部', '--password-file', join(work, 'pw'), '--no-force-change'], env);
    expect(add.code, add.err).toBe(0);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await w?.context.close().catch(() => undefined);
    await browser?.close();
    await app?.stop();
    await clamd?.stop();
    await cleanup(work);
  });

  it("lists each CSV problem on its own line with line and column, without the server's path; the template downloads as UTF-8 with BOM", async () => {
    w = await watchedPage(browser, outside, problems);
    const page = w.page;
    await page.goto(app.base);
    await logIn(page, 'amy', PASSWORD);
    await page.waitForURL(/#\/ingest$/);

    await copyFile(join(SHARED, 'samples/items/S0005.pdf'), join(work, 'a.pdf'));
    const csv = join(work, 'items.csv');
    await writeFile(csv, '文件,档号,题名,岗位\na.pdf,J012-2014-Y-BGS-0001,甲,NOPE\nb.pdf,J012-2014-Y-BGS-0002,乙,NOPE\n');
    await page.setInputFiles('#files-input', [join(work, 'a.pdf')]);
    await page.setInputFiles('#csv-input', csv);
    await page.fill('#posts-input', 'BGS');
    await page.click('#upload-submit');
    const items = page.locator('#upload-form .error ul.problems li');
    await expect.poll(() => items.count(), { timeout: 60_000 }).toBe(3);
    expect(await items.allTextContents()).toEqual([
      '第 2 行“岗位”（第 4 列）：岗位 NOPE 不存在',
      '第 3 行“岗位”（第 4 列）：岗位 NOPE 不存在',
      '第 3 行“文件”（第 1 列）：找不到“b.pdf”（相对于 CSV 所在目录）',
    ]);
    const box = (await page.textContent('#upload-form .error'))!;
    expect(box).toContain('CSV 清单“items.csv”有 3 处问题，未导入任何文件');
    expect(box).not.toContain('/run/');
    expect(box).not.toContain(work);
    expect(box).not.toContain('不存在岗位');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv-template')]);
    expect(download.suggestedFilename()).toBe('著录清单模板.csv');
    const bytes = await readFile((await download.path())!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bytes.subarray(3).toString('utf8').split('\r\n')[0]).toBe('文件,档号,题名,文号,责任者,日期,保管期限,密级,岗位,共享范围');
    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
  }, 300_000);
});
