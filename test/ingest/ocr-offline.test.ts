// The OCR engine never reaches the network: the real `archive ocr` command runs in a child process
// whose every network entry point (in the main thread and in tesseract.js's worker threads) throws
// and reports the attempt. Also the command's error path for bad input.
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { cer } from '../../ingest/ocr/cer.ts';
import { CLI, ROOT, SHARED, tempDir } from '../support/appliance.ts';

const run = promisify(execFile);

const PRELOAD = `
import net from 'node:net';
import tls from 'node:tls';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isMainThread } from 'node:worker_threads';
const fail = (what) => {
  process.stderr.write('NETWORK ATTEMPT: ' + what + '\\n');
  throw new Error('network access attempted: ' + what);
};
// A Unix-domain socket is a file on this machine, not the network (tsx's loader opens one to
// talk to a parent tsx process): let those through, fail every TCP/IP connection.
// (net.connect hands Socket#connect its arguments already normalised, as an array.)
const isIpc = (x) => { const a = Array.isArray(x) ? x[0] : x; return (typeof a === 'string' && !/^\\d+$/.test(a)) || (a && typeof a === 'object' && typeof a.path === 'string'); };
const origSocketConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...a) { return isIpc(a[0]) ? origSocketConnect.apply(this, a) : fail('net.Socket.connect'); };
const origConnect = net.connect;
net.connect = net.createConnection = (...a) => (isIpc(a[0]) ? origConnect(...a) : fail('net.connect'));
tls.connect = () => fail('tls.connect');
for (const k of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny']) dns[k] = () => fail('dns.' + k);
for (const k of ['lookup', 'resolve', 'resolve4', 'resolve6']) dns.promises[k] = async () => fail('dns.promises.' + k);
http.request = http.get = () => fail('http.request');
https.request = https.get = () => fail('https.request');
globalThis.fetch = async (u) => fail('fetch ' + String(u));
if (!isMainThread) process.stderr.write('OFFLINE PRELOAD IN WORKER\\n');
`;

let dir: string;
let preload: string;

beforeAll(async () => {
  dir = await tempDir('ocr-offline-');
  preload = join(dir, 'offline.mjs');
  await writeFile(preload, PRELOAD);
});

describe('archive ocr offline', () => {
  it('the network trap works (control)', async () => {
    const r = await run(process.execPath, [
      '--import',
      preload,
      '-e',
      "fetch('http://127.0.0.1:9/').catch((e) => console.log(e.message)); try { require('node:net').connect(9, '127.0.0.1'); } catch (e) { console.log(e.message); }",
    ]).catch((e: { stdout: string; stderr: string }) => e);
    expect(r.stderr).toContain('NETWORK ATTEMPT: fetch http://127.0.0.1:9/');
    expect(r.stderr).toContain('NETWORK ATTEMPT: net.connect');
  });

  it('the trap catches tesseract.js reaching for its CDN when langPath is missing (control)', async () => {
    const script =
      "const T = require('tesseract.js'); T.createWorker('chi_sim', 1, { cacheMethod: 'none', errorHandler: () => {} }).then((w) => w.terminate(), (e) => { console.log('failed as it should:', String(e)); process.exit(0); }); setTimeout(() => process.exit(0), 3000);";
    // (tesseract.js never settles createWorker when its download fails, hence the timer.)
    const r = await run(process.execPath, ['--import', preload, '-e', script], { cwd: ROOT }).catch((e: { stdout: string; stderr: string }) => e);
    expect(r.stderr).toMatch(/NETWORK ATTEMPT: fetch https:\/\/cdn\.jsdelivr\.net\/npm\/@tesseract\.js-data\/chi_sim/);
  });

  it('OCRs a page with chi_sim+eng while every network call throws, writing nothing to the working dir', async () => {
    const out = join(dir, 'page.pdf');
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', preload, CLI, 'ocr', join(SHARED, 'samples/items/S0003/page-001.jpg'), '-o', out, '--lang', 'chi_sim+eng', '--workers', '1', '--json'],
      { cwd: dir, env: { ...process.env, ARCHIVE_DATA_DIR: join(dir, 'data') }, maxBuffer: 1 << 26 },
    );
    expect(stderr).not.toContain('NETWORK ATTEMPT');
    // The trap was armed inside tesseract.js's worker threads too.
    expect(stderr).toContain('OFFLINE PRELOAD IN WORKER');
    expect(stderr).toContain('第 1/1 页完成');
    const res = JSON.parse(stdout) as { ok: boolean; pages: Array<{ text: string; confidence: number; source: string }> };
    expect(res.ok).toBe(true);
    expect(res.pages[0].source).toBe('ocr');
    const gt = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(SHARED, 'samples/gt/S0003.json'), 'utf8'))) as { pages: Array<{ lines: string[] }> };
    expect(cer(res.pages[0].text, gt.pages[0].lines.join(''))).toBeLessThan(0.06);
    // cacheMethod 'none': no copy of the language data lands in the working directory.
    expect((await readdir(dir)).filter((f) => f.includes('traineddata'))).toEqual([]);
  });

  it('refuses a zero-byte input with its code and a Chinese message, exit 1', async () => {
    const empty = join(dir, 'empty.tif');
    await writeFile(empty, '');
    const r = await run(process.execPath, [CLI, 'ocr', empty, '-o', join(dir, 'x.pdf'), '--json'], { cwd: dir }).catch((e: { code: number; stdout: string }) => e);
    expect((r as { code: number }).code).toBe(1);
    const body = JSON.parse((r as { stdout: string }).stdout) as { ok: boolean; error: { code: string; message: string } };
    expect(body.error.code).toBe('OCR_INPUT_EMPTY');
    expect(body.error.message).toContain('文件为空');
    expect((await readdir(dir)).includes('x.pdf')).toBe(false);
  });
});
