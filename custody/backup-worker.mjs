// The backup's encryption off the main thread. Two jobs, chosen by workerData.mode:
// - 'seal': plaintext batches in (messages), AES-256-GCM chunks out to a new file, every byte
//   hashed as written, the appliance's Ed25519 signature over that digest last, fsynced at end.
// - 'open': an existing backup's chunks read from disk and authenticated, plaintext batches out;
//   every byte hashed as read, and the trailing signature checked before the last batch goes.
// The main thread meanwhile builds or parses the tar and hashes every file: on two cores the
// two halves run side by side instead of one after the other (bench/backup.ts measures it).
// Messages out: { ack: bytes } | { done: bytesWritten } |
// { parts: Uint8Array[], consumed, end, error? } | { error: { reason, chunk?, offset?, message? } }.
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { closeSync, fdatasync, fsyncSync, openSync, readSync, writevSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { ByteQueue, SIG_DOMAIN, SIG_LEN, TAG, sealChunk, tryOpenChunk } from './backup-chunks.mjs';

const asBuffer = (u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function fail(error) {
  parentPort.postMessage({ error });
}

/** Written but not yet flushed: past this the disk catches up alongside (see seal()). */
const FLUSH_EVERY = workerData.flushEvery ?? 64 * 1024 * 1024;

function seal() {
  const key = asBuffer(workerData.key);
  const prefix = asBuffer(workerData.prefix);
  const aad = asBuffer(workerData.aad);
  const chunkSize = workerData.chunkSize;
  const signingKey = createPrivateKey({ key: asBuffer(workerData.signingKey), format: 'der', type: 'pkcs8' });
  const digest = createHash('sha256');
  let fd;
  let written = 0;
  let counter = 0;
  let unflushed = 0;
  let flushing;
  const q = new ByteQueue();
  const write = async (bufs) => {
    const want = bufs.reduce((n, b) => n + b.length, 0);
    if (want === 0) return;
    for (const b of bufs) digest.update(b);
    const n = writevSync(fd, bufs);
    if (n !== want) throw new Error(`short write (${n} of ${want} bytes)`);
    written += n;
    unflushed += n;
    // Flush on the thread pool while encryption goes on, instead of one long fsync at the end:
    // the medium writes alongside, the progress shown is what the medium has taken, and at most
    // two flush intervals of dirty data wait in memory (a slow USB disk holds the writer back).
    if (unflushed >= FLUSH_EVERY) {
      await flushing;
      unflushed = 0;
      flushing = new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    }
  };
  const handle = async (m) => {
    if (m.parts) {
      for (const p of m.parts) q.push(asBuffer(p));
      // The last full chunk stays back until we know whether it is the final one.
      const out = [];
      while (q.length > chunkSize) sealChunk(key, prefix, aad, counter++, false, q.take(chunkSize), out);
      await write(out);
      parentPort.postMessage({ ack: m.bytes });
    } else if (m.end) {
      const out = [];
      sealChunk(key, prefix, aad, counter++, true, q.take(q.length), out);
      await write(out);
      // The signature covers the header and every sealed byte: a new file key means a new signature.
      const sig = sign(null, Buffer.concat([SIG_DOMAIN, digest.digest()]), signingKey);
      const n = writevSync(fd, [sig]);
      if (n !== SIG_LEN) throw new Error('short write of the signature');
      written += n;
      await flushing;
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      parentPort.postMessage({ done: written });
    }
  };
  try {
    fd = openSync(workerData.path, 'wx', 0o600);
    writevSync(fd, [asBuffer(workerData.header)]);
    digest.update(asBuffer(workerData.header));
    written = workerData.header.byteLength;
  } catch (e) {
    fail({ reason: 'io', message: e.message });
    return;
  }
  // One message at a time, in order, even while a flush is awaited.
  let chain = Promise.resolve();
  parentPort.on('message', (m) => {
    chain = chain.then(async () => {
      if (fd === undefined) return;
      try {
        await handle(m);
      } catch (e) {
        try {
          closeSync(fd);
        } catch {
          /* already closed */
        }
        fd = undefined;
        fail({ reason: 'io', message: e.message });
      }
    });
  });
}

/**
 * 'open' may start before the key is known (the main thread derives it meanwhile, and starting a
 * thread costs ~70 ms): it waits for { open: { offset, size, key, prefix, aad, chunkSize } }.
 * The chunk layout follows from the file's size (taken once by the main thread): chunks of
 * chunkSize + TAG, the last one shorter or equal, and only that one sealed as final. Batches of a
 * few chunks go out as { parts, consumed, end, error? }, with only a few batches in flight: the
 * consumer then hashes plaintext that is still in cache (measured: 1 MiB batches with 6 in flight
 * made the main thread's SHA-256 run at half speed on memory fetched back from RAM). A batch is
 * read into one buffer used again for the next (fresh memory per read cost page faults).
 */
function open() {
  let credits = 0;
  let wake;
  parentPort.on('message', (m) => {
    if (m.credit) {
      credits += m.credit;
      wake?.();
    } else if (m.open) {
      credits = m.open.credits;
      const send = async (parts, consumed, end, error) => {
        while (credits <= 0) await new Promise((r) => (wake = r));
        credits--;
        parentPort.postMessage(
          { parts, consumed, end, error },
          parts.map((b) => b.buffer),
        );
      };
      openChunks(m.open, send).catch((e) => fail({ reason: 'io', message: e.message }));
    }
  });
}

async function openChunks(o, send) {
  const key = asBuffer(o.key);
  const prefix = asBuffer(o.prefix);
  const aad = asBuffer(o.aad);
  const signer = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: asBuffer(o.signer).toString('base64url') }, format: 'jwk' });
  const whole = o.chunkSize + TAG;
  const { size, offset: base, batchChunks } = o;
  // The chunks lie between the header and the 64-byte signature at the end.
  const end = size - SIG_LEN;
  const rest = end - base;
  const chunks = rest > 0 ? Math.ceil(rest / whole) : 1;
  const lastLen = rest > 0 ? rest - (chunks - 1) * whole : 0;
  const digest = createHash('sha256');
  const fd = openSync(workerData.path, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(Math.max(batchChunks * whole, base, SIG_LEN));
    // The header too: the signature covers every byte before it.
    digest.update(buf.subarray(0, readFully(fd, buf, base, 0)));
    for (let first = 0; first < chunks; first += batchChunks) {
      const last = Math.min(chunks, first + batchChunks);
      const from = base + first * whole;
      const want = last === chunks ? (last - 1 - first) * whole + lastLen : (last - first) * whole;
      let got = 0;
      while (got < want) {
        const n = readSync(fd, buf, got, want - got, from + got);
        if (n === 0) break; // the file shrank while read: the chunk check below names what is missing
        got += n;
      }
      digest.update(buf.subarray(0, got));
      const parts = [];
      let consumed = 0;
      let error;
      for (let c = first; c < last; c++) {
        const at = (c - first) * whole;
        const final = c === chunks - 1;
        const expected = final ? lastLen : whole;
        const len = Math.min(expected, Math.max(0, got - at));
        const sealed = buf.subarray(at, at + len);
        const offset = from + at;
        if (len < expected || len < TAG) {
          error = { reason: 'truncated', chunk: c + 1, offset };
          break;
        }
        const pt = tryOpenChunk(key, prefix, aad, c, final, sealed);
        if (!pt) {
          // A last chunk that opens as a middle one (with what we took for the signature) means
          // the file was cut short at a chunk boundary.
          if (final && size - offset === whole && tryOpenChunk(key, prefix, aad, c, false, readAt(fd, offset, whole))) error = { reason: 'truncated-after', chunk: c + 1, offset };
          else error = { reason: 'auth', chunk: c + 1, offset };
          break;
        }
        consumed += len;
        // Each opened chunk moves to the main thread as it is (its own memory, no copy).
        parts.push(pt.byteOffset === 0 && pt.byteLength === pt.buffer.byteLength ? pt : new Uint8Array(pt));
      }
      // The last batch goes only with a good signature: a backup re-encrypted or made elsewhere
      // authenticates chunk by chunk under its own file key, and fails here.
      if (!error && last === chunks) {
        const sig = readAt(fd, end, SIG_LEN);
        if (sig.length !== SIG_LEN || !verify(null, Buffer.concat([SIG_DOMAIN, digest.digest()]), signer, sig)) error = { reason: 'signature', chunk: chunks + 1, offset: end };
      }
      // What was authenticated before a bad chunk still goes on: the consumer stages it, and the
      // error that comes with it tells it to throw the staging away.
      const done = !error && last === chunks;
      await send(parts, consumed, done, error);
      if (error || done) return;
    }
  } finally {
    closeSync(fd);
  }
}

function readFully(fd, buf, len, at) {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, at + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function readAt(fd, at, len) {
  const b = Buffer.alloc(len);
  return b.subarray(0, readFully(fd, b, len, at));
}

if (workerData.mode === 'seal') seal();
else open();
