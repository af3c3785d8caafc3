import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceError } from '../../core/errors.ts';
import { clamdHealth, clamdSignatures, isRetryableScanError, scanFile, scanFileDigest, scanStream } from '../../security/index.ts';
import { assertScannerReady, parseClamdVersion } from '../../security/clamd-signatures.ts';
import { parseInstreamReply } from '../../security/clamav.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { eicarBytes, startTestClamd, type TestClamd } from '../support/clamd.ts';

const MiB = 1024 * 1024;

/** Run a scan and return the thrown ApplianceError (fails the test if it resolved). */
async function scanError(p: Promise<unknown>): Promise<ApplianceError> {
  try {
    const v = await p;
    throw new Error(`expected a scan error, got ${JSON.stringify(v)}`);
  } catch (e) {
    if (!(e instanceof ApplianceError)) throw e;
    return e;
  }
}

describe('ClamAV INSTREAM against a real clamd', () => {
  let dir: string;
  let clamd: TestClamd;
  let eicar: string;
  let clean: string;

  beforeAll(async () => {
    dir = await tempDir('clamav-test-');
    clamd = await startTestClamd({ maxFileSize: 1 * MiB });
    eicar = join(dir, 'eicar.com');
    await writeFile(eicar, eicarBytes());
    expect(createHash('md5').update(eicarBytes()).digest('hex')).toBe('44d88612fea8a8f36de82e1278abb02f');
    clean = join(dir, 'clean.bin');
    await writeFile(clean, randomBytes(MiB - 10));
  });
  afterAll(async () => {
    await clamd?.stop();
    await cleanup(dir);
  });

  it('detects EICAR with the shipped test signatures', async () => {
    const v = await scanFile(clamd.address, eicar);
    expect(v.verdict).toBe('infected');
    expect(v.verdict === 'infected' && v.signature).toMatch(/^Eicar-Test-Signature/);
  });

  it('finds EICAR inside a stream of many small chunks, too', async () => {
    const bytes = eicarBytes();
    async function* oneByteAtATime() {
      for (const b of bytes) yield Uint8Array.of(b);
    }
    expect((await scanStream(clamd.address, oneByteAtATime())).verdict).toBe('infected');
  });

  it('says clean for a clean file just under the limit, and for an empty one', async () => {
    expect(await scanFile(clamd.address, clean)).toEqual({ verdict: 'clean' });
    const empty = join(dir, 'empty');
    await writeFile(empty, '');
    expect(await scanFile(clamd.address, empty)).toEqual({ verdict: 'clean' });
  });

  it('scanFileDigest: the verdict and the SHA-256 of exactly the bytes clamd was sent (what ingest compares with the received copy)', async () => {
    const sha = async (f: string) =>
      createHash('sha256')
        .update(await readFile(f))
        .digest('hex');
    expect(await scanFileDigest(clamd.address, clean)).toEqual({ verdict: { verdict: 'clean' }, sha256: await sha(clean) });
    const v = await scanFileDigest(clamd.address, eicar);
    expect(v).toMatchObject({ verdict: { verdict: 'infected' }, sha256: await sha(eicar) });
  });

  it('scans several files at once', async () => {
    const verdicts = await Promise.all([eicar, clean, eicar, clean].map((f) => scanFile(clamd.address, f)));
    expect(verdicts.map((v) => v.verdict)).toEqual(['infected', 'clean', 'infected', 'clean']);
  });

  it('refuses a file over StreamMaxLength (SCAN_LIMIT_EXCEEDED, not retryable, never clean)', async () => {
    for (const size of [MiB + 1, 5 * MiB]) {
      const big = join(dir, `big-${size}`);
      await writeFile(big, Buffer.alloc(size, 0x61));
      const e = await scanError(scanFile(clamd.address, big));
      expect(e.code).toBe('SCAN_LIMIT_EXCEEDED');
      expect(e.zh).toContain('已拒收');
      expect(isRetryableScanError(e)).toBe(false);
    }
  });

  it('refuses a missing input file without contacting clamd', async () => {
    const e = await scanError(scanFile(clamd.address, join(dir, 'nope')));
    expect(e.code).toBe('SCAN_INPUT_UNREADABLE');
  });

  it('reports engine and signatures (custom databases: no date) and health ok', async () => {
    const s = await assertScannerReady(clamd.address);
    expect(s.engine).toMatch(/^\d+\.\d+/);
    expect(s.signatureVersion).toBeUndefined();
    expect((await clamdSignatures(clamd.address)).engine).toBe(s.engine);
    const h = await clamdHealth(clamd.address);
    expect(h.status).toBe('ok');
    expect(h.reason).toBe('运行中；病毒特征库日期未知（仅有自定义特征库）');
    expect(h.signatures?.engine).toBe(s.engine);
  });
});

describe('ClamAV limits enforced by clamd itself (MaxFileSize below StreamMaxLength)', () => {
  let dir: string;
  let clamd: TestClamd;
  beforeAll(async () => {
    dir = await tempDir('clamav-limit-');
    clamd = await startTestClamd({ maxFileSize: 1 * MiB, streamMaxLength: 4 * MiB });
  });
  afterAll(async () => {
    await clamd?.stop();
    await cleanup(dir);
  });

  it('treats Heuristics.Limits.Exceeded as a refusal, not clean and not a virus', async () => {
    const f = join(dir, 'two-mib');
    await writeFile(f, Buffer.alloc(2 * MiB, 0x62));
    const e = await scanError(scanFile(clamd.address, f));
    expect(e.code).toBe('SCAN_LIMIT_EXCEEDED');
    expect(String(e.details?.reply)).toMatch(/Heuristics\.Limits\.Exceeded/);
  });

  it('a stopped clamd is SCANNER_UNAVAILABLE (retryable) for scans, readiness and health', async () => {
    const f = join(dir, 'small');
    await writeFile(f, 'hello');
    expect(await scanFile(clamd.address, f)).toEqual({ verdict: 'clean' });
    await clamd.stop();
    const e = await scanError(scanFile(clamd.address, f));
    expect(e.code).toBe('SCANNER_UNAVAILABLE');
    expect(e.zh).toContain('不可用');
    expect(isRetryableScanError(e)).toBe(true);
    expect((await scanError(assertScannerReady(clamd.address))).code).toBe('SCANNER_UNAVAILABLE');
    const down = await clamdHealth(clamd.address);
    expect(down.status).toBe('down');
    expect(down.reason).toContain(`无法连接 clamd（${clamd.address}）`);
    expect(down.reason).toContain('病毒扫描服务未运行');
    const tcp = await scanError(scanFile('tcp:127.0.0.1:1', f));
    expect(tcp.code).toBe('SCANNER_UNAVAILABLE');
  });
});

/**
 * Fake clamds that misbehave. Each gets the raw connection and the bytes received so far; the
 * client must never say clean unless the stream was complete and the reply exactly `stream: OK`.
 */
describe('a dead, slow or lying clamd never yields clean', () => {
  let dir: string;
  let small: string;
  let large: string;
  const servers: Server[] = [];

  type Behaviour = (sock: Socket, ev: { firstData: () => void; streamEnd: () => void }) => void;

  /** A fake server that parses INSTREAM framing and calls back at the first data and at the terminator. */
  async function fake(name: string, behaviour: Behaviour, stats?: { chunks: number[]; data: Buffer[] }): Promise<string> {
    const path = join(dir, `${name}.sock`);
    const srv = createServer((sock) => {
      let buf = Buffer.alloc(0);
      let gotCommand = false;
      let first = true;
      const handlers = { firstData: () => {}, streamEnd: () => {} };
      behaviour(sock, handlers);
      sock.on('error', () => {});
      sock.on('data', (d: Buffer) => {
        if (first) {
          first = false;
          handlers.firstData();
        }
        buf = Buffer.concat([buf, d]);
        if (!gotCommand) {
          const nul = buf.indexOf(0);
          if (nul < 0) return;
          expect(buf.subarray(0, nul).toString()).toBe('zINSTREAM');
          buf = buf.subarray(nul + 1);
          gotCommand = true;
        }
        while (buf.length >= 4) {
          const n = buf.readUInt32BE(0);
          if (buf.length < 4 + n) return;
          if (n === 0) {
            buf = buf.subarray(4);
            handlers.streamEnd();
            return;
          }
          stats?.chunks.push(n);
          stats?.data.push(Buffer.from(buf.subarray(4, 4 + n)));
          buf = buf.subarray(4 + n);
        }
      });
    });
    await new Promise<void>((r) => srv.listen(path, r));
    servers.push(srv);
    return `unix:${path}`;
  }

  beforeAll(async () => {
    dir = await tempDir('clamav-fake-');
    small = join(dir, 'small.txt');
    await writeFile(small, 'just some text');
    large = join(dir, 'large.bin');
    await writeFile(large, randomBytes(4 * MiB));
  });
  afterAll(async () => {
    for (const s of servers) s.close();
    await cleanup(dir);
  });

  it('control: a correct fake gets the whole file in bounded chunks and its OK is clean', async () => {
    const stats = { chunks: [] as number[], data: [] as Buffer[] };
    const addr = await fake('honest', (sock, ev) => (ev.streamEnd = () => sock.end('stream: OK\0')), stats);
    expect(await scanFile(addr, large)).toEqual({ verdict: 'clean' });
    expect(stats.chunks.length).toBeGreaterThan(10);
    expect(Math.max(...stats.chunks)).toBeLessThanOrEqual(64 * 1024);
    const { readFile } = await import('node:fs/promises');
    expect(Buffer.concat(stats.data).equals(await readFile(large))).toBe(true);
  });

  it('hangs (reads everything, never answers) → SCAN_TIMEOUT', async () => {
    const addr = await fake('hang', () => {});
    const e = await scanError(scanFile(addr, small, { timeoutMs: 500 }));
    expect(e.code).toBe('SCAN_TIMEOUT');
    expect(isRetryableScanError(e)).toBe(true);
  });

  it('accepts but never reads → SCAN_TIMEOUT', async () => {
    const addr = await fake('stuck', (sock) => sock.pause());
    expect((await scanError(scanFile(addr, large, { timeoutMs: 500 }))).code).toBe('SCAN_TIMEOUT');
  });

  it('answers garbage → SCAN_FAILED', async () => {
    const addr = await fake('garbage', (sock, ev) => (ev.streamEnd = () => sock.end('hello there\0')));
    const e = await scanError(scanFile(addr, small));
    expect(e.code).toBe('SCAN_FAILED');
    expect(e.details?.reply).toBe('hello there');
  });

  it('answers `stream: OK` before the stream has been read → SCAN_FAILED', async () => {
    const addr = await fake('early-ok', (sock, ev) => (ev.firstData = () => sock.end('stream: OK\0')));
    const e = await scanError(scanFile(addr, large));
    expect(e.code).toBe('SCAN_FAILED');
    expect(e.details?.reason).toBe('answered before the whole stream was sent');
  });

  it('answers `stream: OK` early and keeps the connection open → not clean', async () => {
    const addr = await fake('early-ok-open', (sock, ev) => (ev.firstData = () => sock.write('stream: OK\0')));
    const e = await scanError(scanFile(addr, large, { timeoutMs: 800 }));
    expect(['SCAN_FAILED', 'SCAN_TIMEOUT']).toContain(e.code);
  });

  it('closes half-way through the stream → SCAN_FAILED', async () => {
    const addr = await fake('close-midway', (sock, ev) => (ev.firstData = () => setTimeout(() => sock.destroy(), 5)));
    const e = await scanError(scanFile(addr, large));
    expect(e.code).toBe('SCAN_FAILED');
  });

  it('closes after the stream without a reply → SCAN_FAILED', async () => {
    const addr = await fake('silent-close', (sock, ev) => (ev.streamEnd = () => sock.end()));
    expect((await scanError(scanFile(addr, small))).details?.reason).toBe('connection closed without a reply');
  });

  it('half a reply, or OK without its NUL, then close → SCAN_FAILED', async () => {
    for (const reply of ['stream: O', 'stream: OK']) {
      const addr = await fake(`half-${reply.length}`, (sock, ev) => (ev.streamEnd = () => sock.end(reply)));
      const e = await scanError(scanFile(addr, small));
      expect(e.code).toBe('SCAN_FAILED');
      expect(e.details?.reason).toBe('reply cut short (no terminating NUL)');
    }
  });

  it('OK followed by more bytes → SCAN_FAILED', async () => {
    const addr = await fake('extra', (sock, ev) => (ev.streamEnd = () => sock.end('stream: OK\0stream: OK\0')));
    expect((await scanError(scanFile(addr, small))).details?.reason).toBe('extra bytes after the reply');
  });

  it('an ERROR reply and a size-limit reply are errors, a FOUND reply is infected', async () => {
    const err = await fake('err', (sock, ev) => (ev.streamEnd = () => sock.end("stream: Can't allocate memory ERROR\0")));
    expect((await scanError(scanFile(err, small))).code).toBe('SCAN_FAILED');
    const lim = await fake('limit', (sock, ev) => (ev.firstData = () => sock.end('INSTREAM size limit exceeded. ERROR\0')));
    expect((await scanError(scanFile(lim, large))).code).toBe('SCAN_LIMIT_EXCEEDED');
    const found = await fake('found', (sock, ev) => (ev.streamEnd = () => sock.end('stream: Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68) FOUND\0')));
    expect(await scanFile(found, small)).toEqual({ verdict: 'infected', signature: 'Win.Test.EICAR_HDB-1' });
  });

  it('parses replies strictly', () => {
    expect(parseInstreamReply('stream: OK')).toEqual({ verdict: 'clean' });
    for (const bad of ['stream: ok', 'stream: OK ', ' stream: OK', 'OK', 'stream:  FOUND', 'stream: \u0000 FOUND', '', 'stream: OK\nstream: OK']) {
      expect(() => parseInstreamReply(bad), bad).toThrow(ApplianceError);
    }
    expect(() => parseInstreamReply('stream: Heuristics.Limits.Exceeded.MaxScanSize FOUND')).toThrow(/scan limits/);
  });

  it('parses VERSION with and without an official database', () => {
    const now = new Date('2026-11-24T12:00:00');
    const s = parseClamdVersion('ClamAV 1.4.6/27100/Mon Nov 16 09:00:00 2026', now);
    expect(s).toMatchObject({ engine: '1.4.6', signatureVersion: 27100, ageDays: 8 });
    expect(parseClamdVersion('ClamAV 1.4.6', now)).toMatchObject({ engine: '1.4.6' });
    expect(() => parseClamdVersion('nginx', now)).toThrow(ApplianceError);
  });

  it('health is degraded when signatures are old, down when VERSION is garbage', async () => {
    const serve = async (name: string, version: string) => {
      const path = join(dir, `${name}.sock`);
      const srv = createServer((sock) => {
        sock.on('error', () => {});
        sock.once('data', (d) => sock.end(d.toString().startsWith('zPING') ? 'PONG\0' : `${version}\0`));
      });
      await new Promise<void>((r) => srv.listen(path, r));
      servers.push(srv);
      return `unix:${path}`;
    };
    const old = await clamdHealth(await serve('v-old', 'ClamAV 1.4.6/27000/Mon Aug 03 09:00:00 2026'), { now: new Date('2026-11-24T00:00:00') });
    expect(old.status).toBe('degraded');
    expect(old.signatures?.ageDays).toBeGreaterThan(100);
    expect(old.reason).toMatch(/^运行中；病毒特征库已 \d+ 天（超过 30 天），请用 archive signatures import/);
    const fresh = await clamdHealth(await serve('v-fresh', 'ClamAV 1.4.6/27100/Mon Nov 23 09:00:00 2026'), { now: new Date('2026-11-24T00:00:00') });
    expect(fresh.status).toBe('ok');
    expect(fresh.reason).toMatch(/^运行中；病毒特征库 [01] 天前发布$/);
    const bad = await clamdHealth(await serve('v-bad', 'whatever'));
    expect(bad).toMatchObject({ status: 'down', reason: 'clamd 对 VERSION 的回复异常：whatever' });
  });
});
