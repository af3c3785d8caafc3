import { connect, type Socket } from 'node:net';

/** Open a socket to clamd from an address `unix:/path` or `tcp:HOST:PORT` (validated in config). */
export function connectClamd(address: string): Socket {
  if (address.startsWith('unix:')) return connect({ path: address.slice(5) });
  const rest = address.slice(4);
  const i = rest.lastIndexOf(':');
  return connect({ host: rest.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(rest.slice(i + 1)) });
}

/**
 * Send one z-terminated command and collect the reply up to its NUL. Rejects on error, on
 * timeout and on a connection closed before a reply: the caller never mistakes silence for OK.
 */
export function clamdCommand(address: string, command: string, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connectClamd(address);
    let buf = '';
    const done = (err?: Error, reply?: string) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply ?? '');
    };
    const timer = setTimeout(() => done(new Error(`clamd did not answer ${command} within ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => sock.write(`z${command}\0`));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const nul = buf.indexOf('\0');
      if (nul >= 0) done(undefined, buf.slice(0, nul));
    });
    sock.on('error', (e) => done(e));
    sock.on('close', () => done(new Error('clamd closed the connection without a reply')));
  });
}
