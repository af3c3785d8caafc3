// The backup's encryption off the main thread. Two jobs, chosen by workerData.mode:
// - 'seal': plaintext batches in (messages), AES-256-GCM chunks out to a new file, fsynced at end.
// - 'open': an existing backup's chunks read from disk and authenticated, plaintext batches out.
// The main thread meanwhile builds or parses the tar and hashes every file: on two cores the
// two halves run side by side instead of one after the other (bench/backup.ts measures it).
// Messages out: { ack: bytes } | { done: bytesWritten } | { parts: Uint8Array[], consumed } |
// { end: true } | { error: { reason, chunk?, offset?, message? } }.
import { closeSync, fdatasync, fstatSync, fsyncSync, openSync, readSync, writevSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { ByteQueue, TAG, sealChunk, tryOpenChunk } from './backup-chunks.mjs';

const asBuffer = (u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const key = asBuffer(workerData.key);
const prefix = asBuffer(workerData.prefix);
const aad = asBuffer(workerData.aad);
const chunkSize = workerData.chunkSize;

function fail(error) {
  parentPort.postMessage({ error });
}

/** Written but not yet flushed: past this the disk catches up alongside (see seal()). */
const FLUSH_EVERY = workerData.flushEvery ?? 64 * 1024 * 1024;

function seal() {
  let fd;
  let written = 0;
  let counter = 0;
  let unflushed = 0;
  let flushing;
  const q = new ByteQueue();
  const write = async (bufs) => {
    const want = bufs.reduce((n, b) => n + b.length, 0);
    if (want === 0) return;
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

async function open() {
  const READ = 4 * 1024 * 1024;
  const whole = chunkSize + TAG;
  let credits = 8;
  let wake;
  parentPort.on('message', (m) => {
    if (m.credit) {
      credits++;
      wake?.();
    }
  });
  const fd = openSync(workerData.path, 'r');
  try {
    const size = fstatSync(fd).size;
    let pos = workerData.offset;
    let offset = workerData.offset;
    let counter = 0;
    let eof = pos >= size;
    const q = new ByteQueue();
    for (;;) {
      if (!eof) {
        const b = Buffer.allocUnsafe(Math.min(READ, size - pos));
        const n = readSync(fd, b, 0, b.length, pos);
        pos += n;
        q.push(b.subarray(0, n));
        // A file that shrank while read ends here: the chunk check below names what is missing.
        eof = n === 0 || pos >= size;
      }
      const out = [];
      let consumed = 0;
      let error;
      const openOne = (final) => {
        const sealed = q.take(final ? q.length : whole);
        const n = counter + 1;
        const pt = tryOpenChunk(key, prefix, aad, counter, final, sealed);
        if (!pt) {
          // A last chunk that opens as a middle one means the file was cut short.
          if (final && tryOpenChunk(key, prefix, aad, counter, false, sealed)) error = { reason: 'truncated-after', chunk: n, offset };
          else error = { reason: 'auth', chunk: n, offset };
          return;
        }
        counter++;
        offset += sealed.length;
        consumed += sealed.length;
        out.push(pt);
      };
      while (!error && q.length > whole) openOne(false);
      if (!error && eof) {
        if (q.length < TAG) error = { reason: 'truncated', chunk: counter + 1, offset };
        else openOne(true);
      }
      // What was authenticated before a bad chunk still goes on: the consumer stages it, and the
      // error that follows tells it to throw the staging away.
      if (out.length) {
        while (credits <= 0) await new Promise((r) => (wake = r));
        credits--;
        // Each opened chunk moves to the main thread as it is (no copy into one batch buffer).
        const parts = out.map((b) => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b)));
        parentPort.postMessage({ parts, consumed }, parts.map((b) => b.buffer));
      }
      if (error) return fail(error);
      if (eof) return parentPort.postMessage({ end: true });
    }
  } catch (e) {
    fail({ reason: 'io', message: e.message });
  } finally {
    closeSync(fd);
  }
}

if (workerData.mode === 'seal') seal();
else open().catch((e) => fail({ reason: 'io', message: e.message }));
