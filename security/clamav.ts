import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { ApplianceError, isApplianceError } from '../core/index.ts';
import { connectClamd } from './clamd-address.ts';
import { scannerUnavailable } from './clamd-signatures.ts';

/** The only two answers a scan can give; every other outcome is a thrown ApplianceError. */
export type ScanVerdict = { verdict: 'clean' } | { verdict: 'infected'; signature: string };

/**
 * Codes a scan can throw. retryable (details.retryable) says whether the same file may pass
 * later: a scanner that is down, slow or garbled may recover; an oversized or unreadable file
 * will not, so it is refused rather than waited on.
 */
export const SCAN_ERROR_CODES = ['SCANNER_UNAVAILABLE', 'SCAN_TIMEOUT', 'SCAN_FAILED', 'SCAN_LIMIT_EXCEEDED', 'SCAN_INPUT_UNREADABLE'] as const;
export type ScanErrorCode = (typeof SCAN_ERROR_CODES)[number];

export function isScanError(e: unknown): e is ApplianceError & { code: ScanErrorCode } {
  return isApplianceError(e) && (SCAN_ERROR_CODES as readonly string[]).includes(e.code);
}

/** True when the job should wait and try the same file again (scanner trouble, not the file's fault). */
export function isRetryableScanError(e: unknown): boolean {
  return isScanError(e) && e.details?.retryable === true;
}

export interface ScanOptions {
  /** Whole scan (connect, stream, clamd's verdict) must finish within this. Default 120 s. */
  timeoutMs?: number;
  /** Connecting must succeed within this, else SCANNER_UNAVAILABLE. Default 5 s. */
  connectTimeoutMs?: number;
  /** Largest INSTREAM chunk; clamd's default StreamMaxLength is far above it. Default 64 KiB. */
  chunkBytes?: number;
}

const DEFAULTS = { timeoutMs: 120_000, connectTimeoutMs: 5_000, chunkBytes: 64 * 1024 };

/** Scan one file by streaming it to clamd (never read whole into memory). */
export async function scanFile(address: string, path: string, opts: ScanOptions = {}): Promise<ScanVerdict> {
  return (await scanFileDigest(address, path, opts)).verdict;
}

/**
 * scanFile, with the SHA-256 of exactly the bytes clamd was sent (of the attempt that gave the
 * verdict): a caller that knows what the file should hold can tell that what was scanned is it.
 */
export async function scanFileDigest(address: string, path: string, opts: ScanOptions = {}): Promise<{ verdict: ScanVerdict; sha256: string }> {
  let careful: Careful | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const hash = createHash('sha256');
      const verdict = await scanFileOnce(address, path, opts, careful, hash);
      return { verdict, sha256: hash.digest('hex') };
    } catch (e) {
      if (attempt >= MID_STREAM_ATTEMPTS || !isScanError(e) || e.details?.reason !== MID_STREAM) throw e;
      // Go slowly around where clamd cut us off, so its answer is read before we write again.
      const cut = Number(e.details.bytesSent);
      careful = { from: Math.max(0, cut - CAREFUL_WINDOW), to: cut + CAREFUL_WINDOW, pauseMs: 20 * attempt };
    }
  }
}

async function scanFileOnce(address: string, path: string, opts: ScanOptions, careful: Careful | undefined, hash: Hash): Promise<ScanVerdict> {
  const chunkBytes = opts.chunkBytes ?? DEFAULTS.chunkBytes;
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw unreadable(path, e);
  }
  try {
    const handle = fh;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (;;) {
        // A fresh buffer per chunk: the socket holds on to it until it is flushed.
        const buf = Buffer.allocUnsafe(chunkBytes);
        let n: number;
        try {
          ({ bytesRead: n } = await handle.read(buf, 0, chunkBytes, null));
        } catch (e) {
          throw unreadable(path, e);
        }
        if (n === 0) return;
        hash.update(buf.subarray(0, n));
        yield buf.subarray(0, n);
      }
    }
    return await instream(address, chunks(), { ...opts, chunkBytes }, careful);
  } finally {
    await fh.close();
  }
}

/**
 * INSTREAM over a z-command connection: `zINSTREAM\0`, chunks of (4-byte big-endian length,
 * data), a zero-length chunk, then one NUL-terminated reply after which clamd closes.
 *
 * Fails closed: only the exact reply `stream: OK`, received after the whole stream was sent and
 * followed by clamd closing the connection, is clean. A reply before the stream ended, a reply
 * cut short, extra bytes, silence, or a closed connection all throw.
 */
export function scanStream(address: string, source: AsyncIterable<Uint8Array>, opts: ScanOptions = {}): Promise<ScanVerdict> {
  return instream(address, source, opts);
}

/** Slow down between these byte offsets: after each frame, wait until it is handed over, then pause. */
interface Careful {
  from: number;
  to: number;
  pauseMs: number;
}

function instream(address: string, source: AsyncIterable<Uint8Array>, opts: ScanOptions, careful?: Careful): Promise<ScanVerdict> {
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const connectTimeoutMs = Math.min(opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, timeoutMs);
  const chunkBytes = opts.chunkBytes ?? DEFAULTS.chunkBytes;

  return new Promise<ScanVerdict>((resolve, reject) => {
    const sock = connectClamd(address);
    let connected = false;
    let settled = false;
    /** Set when the zero-length terminator has been handed to the socket. */
    let streamEnded = false;
    /** Set when any reply byte arrived before the terminator was sent. */
    let earlyReply = false;
    let bytesSent = 0;
    let writeFailed = false;
    const received: Buffer[] = [];

    const settle = (err: unknown, verdict?: ScanVerdict) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(verdict!);
    };
    const connectTimer = setTimeout(() => {
      if (!connected) settle(scannerUnavailable(address, new Error(`no connection within ${connectTimeoutMs} ms`)));
    }, connectTimeoutMs);
    const timer = setTimeout(
      () =>
        settle(
          new ApplianceError(
            'SCAN_TIMEOUT',
            `病毒扫描超时：clamd 在 ${Math.round(timeoutMs / 1000)} 秒内未给出结果。文件未被处理，稍后将重试。`,
            `clamd gave no verdict within ${timeoutMs} ms (${bytesSent} bytes sent)`,
            {
              status: 503,
              details: { address, timeoutMs, bytesSent, retryable: true },
            },
          ),
        ),
      timeoutMs,
    );

    const waitWritable = () =>
      new Promise<void>((r) => {
        const done = () => {
          sock.off('drain', done);
          sock.off('close', done);
          r();
        };
        sock.on('drain', done);
        sock.on('close', done);
      });
    const send = async (frame: Buffer) => {
      if (careful && bytesSent >= careful.from && bytesSent <= careful.to) {
        await new Promise<void>((r) => {
          sock.write(frame, () => r());
        });
        await new Promise((r) => setTimeout(r, careful.pauseMs));
      } else if (!sock.write(frame)) await waitWritable();
    };
    const stopped = () => settled || earlyReply || sock.destroyed;

    const pump = async () => {
      await send(Buffer.from('zINSTREAM\0', 'latin1'));
      for await (const chunk of source) {
        for (let off = 0; off < chunk.length; off += chunkBytes) {
          if (stopped()) return;
          const part = chunk.subarray(off, Math.min(chunk.length, off + chunkBytes));
          const frame = Buffer.allocUnsafe(4 + part.length);
          frame.writeUInt32BE(part.length, 0);
          frame.set(part, 4);
          bytesSent += part.length;
          await send(frame);
        }
      }
      if (stopped()) return;
      streamEnded = true;
      await send(Buffer.alloc(4));
    };

    sock.on('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
      pump().catch((e) => settle(isApplianceError(e) ? e : scanFailed(address, `sending the stream failed: ${(e as Error).message}`, undefined, bytesSent)));
    });
    sock.on('data', (d: Buffer) => {
      if (!streamEnded) earlyReply = true;
      received.push(d);
      // A reply far longer than any clamd answer is not clamd.
      if (received.reduce((n, b) => n + b.length, 0) > 4096) settle(scanFailed(address, 'reply too long', Buffer.concat(received).toString('latin1', 0, 200), bytesSent));
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected) settle(scannerUnavailable(address, e));
      else writeFailed = true;
      // After connecting, an error (EPIPE when clamd stops reading at its size limit) is
      // followed by 'close', where whatever reply did arrive is judged.
    });
    sock.on('close', () => {
      if (settled) return;
      if (!connected) return settle(scannerUnavailable(address, new Error('connection closed before it was established')));
      try {
        settle(undefined, judge(address, Buffer.concat(received), earlyReply, bytesSent, writeFailed));
      } catch (e) {
        settle(e);
      }
    });
  });
}

/**
 * clamd stops reading at its size limit, answers and closes. If our next write fails first
 * (EPIPE), Node closes the socket before the answer is read, and the answer is lost (measured:
 * about 2% of oversized scans). scanFile then tries again, slowly around the cut (measured: 3,000
 * of 3,000 oversized scans answered SCAN_LIMIT_EXCEEDED); scanStream cannot replay its source and
 * throws SCAN_FAILED (retryable), which is still never clean.
 */
const MID_STREAM = 'connection closed mid-stream without a reply';
const MID_STREAM_ATTEMPTS = 3;
/** Beyond what the kernel's socket buffers can hold in flight, so the frame clamd refused is inside. */
const CAREFUL_WINDOW = 1024 * 1024;

/** Decide what a complete exchange means. Throws for everything that is not a clear verdict. */
function judge(address: string, raw: Buffer, earlyReply: boolean, bytesSent: number, cutMidStream: boolean): ScanVerdict {
  const nul = raw.indexOf(0);
  if (raw.length === 0) throw scanFailed(address, cutMidStream ? MID_STREAM : 'connection closed without a reply', '', bytesSent);
  if (nul < 0) throw scanFailed(address, 'reply cut short (no terminating NUL)', raw.toString('latin1', 0, 200), bytesSent);
  if (nul !== raw.length - 1) throw scanFailed(address, 'extra bytes after the reply', raw.toString('latin1', 0, 200), bytesSent);
  const reply = raw.toString('utf8', 0, nul);
  if (/size limit exceeded/i.test(reply)) throw limitExceeded(address, reply, bytesSent);
  // clamd scans only once the stream has ended: any other early answer is not about this file.
  if (earlyReply) throw scanFailed(address, 'answered before the whole stream was sent', reply, bytesSent);
  return parseInstreamReply(reply, address, bytesSent);
}

/** Parse the text of one INSTREAM reply (without its NUL). Exported for unit tests. */
export function parseInstreamReply(reply: string, address = 'clamd', bytesSent = 0): ScanVerdict {
  if (reply === 'stream: OK') return { verdict: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(reply);
  if (found) {
    // ExtendedDetectionInfo appends "(md5:size)"; the name alone is the signature.
    const name = found[1].replace(/\([0-9a-f]{32,64}:\d+\)$/, '');
    if (/^Heuristics\.Limits\.Exceeded/.test(name)) throw limitExceeded(address, reply, bytesSent);
    if (!/^[A-Za-z0-9][\x21-\x7e]{0,200}$/.test(name)) throw scanFailed(address, 'malformed signature name', reply, bytesSent);
    return { verdict: 'infected', signature: name };
  }
  if (/ERROR$/.test(reply)) throw scanFailed(address, 'clamd reported an error', reply, bytesSent);
  throw scanFailed(address, 'unrecognised reply', reply, bytesSent);
}

function scanFailed(address: string, why: string, reply: string | undefined, bytesSent: number): ApplianceError {
  const shown = reply === undefined ? '' : `：${reply.slice(0, 80) || '（无回复）'}`;
  return new ApplianceError('SCAN_FAILED', `病毒扫描未能完成（${zhWhy(why)}${shown}）。文件未被处理，稍后将重试。`, `scan failed at ${address}: ${why}${reply ? `: ${reply.slice(0, 200)}` : ''}`, {
    status: 502,
    details: { address, reason: why, reply: reply?.slice(0, 200), bytesSent, retryable: true },
  });
}

function zhWhy(why: string): string {
  const map: Record<string, string> = {
    'connection closed without a reply': '扫描服务未回复即断开连接',
    [MID_STREAM]: '扫描服务在传送中途断开连接',
    'reply cut short (no terminating NUL)': '扫描服务的回复不完整',
    'extra bytes after the reply': '扫描服务的回复含多余内容',
    'answered before the whole stream was sent': '扫描服务在文件传送完毕前即作答',
    'malformed signature name': '病毒特征名称格式异常',
    'clamd reported an error': '扫描服务报告错误',
    'unrecognised reply': '无法识别扫描服务的回复',
    'reply too long': '扫描服务的回复过长',
  };
  return map[why] ?? `向扫描服务传送文件失败`;
}

function limitExceeded(address: string, reply: string, bytesSent: number): ApplianceError {
  return new ApplianceError('SCAN_LIMIT_EXCEEDED', '文件超出病毒扫描的大小或复杂度限制，无法确认其安全，已拒收。', `file exceeds clamd's scan limits: ${reply.slice(0, 200)}`, {
    status: 413,
    details: { address, reply: reply.slice(0, 200), bytesSent, retryable: false },
  });
}

function unreadable(path: string, cause: unknown): ApplianceError {
  return new ApplianceError('SCAN_INPUT_UNREADABLE', `无法读取待扫描的文件：${path}（${(cause as Error).message}）`, `cannot read file to scan: ${path}: ${(cause as Error).message}`, {
    status: 400,
    cause,
    details: { path, retryable: false },
  });
}
