// The HTTP clients of bench/search.ts, in their own thread: a browser is not in the server's
// process, so the time to send requests and read answers must not queue on the server's event
// loop (it did when both ran on one thread, adding to the API column only). Plain JS: a worker.
import { Agent, request } from 'node:http';
import { readlinkSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

// This thread's id, so the bench can leave the clients' CPU out of the server's.
parentPort.postMessage({ tid: Number(readlinkSync('/proc/thread-self').split('/').pop()) });

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function send(r, retried = false) {
  return new Promise((resolve, reject) => {
    const req = request({ host: r.host, port: r.port, path: r.path, method: r.method, headers: r.headers, agent }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode} for ${r.path}`))));
    });
    // A kept-alive socket the server closed while idle: send again once on a fresh one.
    req.on('error', (e) => (req.reusedSocket && !retried ? send(r, true).then(resolve, reject) : reject(e)));
    req.end(r.body);
  });
}

async function run(concurrency, reqs) {
  const times = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < reqs.length) {
        const r = reqs[next++];
        const t = performance.now();
        await send(r);
        times.push(performance.now() - t);
      }
    }),
  );
  return times;
}

parentPort.on('message', async ({ id, concurrency, reqs }) => {
  try {
    parentPort.postMessage({ id, times: await run(concurrency, reqs) });
  } catch (e) {
    parentPort.postMessage({ id, error: e.message });
  }
});
