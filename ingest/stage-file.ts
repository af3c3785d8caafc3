import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openRegularNoFollow } from './no-follow.ts';

/**
 * Copy a received file into the job's staging area, hashing it on the way. Only bytes are
 * copied: nothing parses the file before the virus gate has passed it, and from here on only
 * the staged copy is used, so what was scanned is what gets archived.
 */
export async function stageFile(src: string | NodeJS.ReadableStream, dest: string, maxBytes: number, opts: { exact?: boolean } = {}): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > maxBytes) return cb(Object.assign(new Error('file too large'), { code: 'FILE_TOO_LARGE' }));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  // A path is read only through a descriptor that was checked: no link, regular file (no-follow.ts).
  const input = typeof src === 'string' ? (await openRegularNoFollow(src, opts.exact ?? false)).createReadStream() : src;
  await pipeline(input, meter, createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
  const fh = await open(dest, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { sha256: hash.digest('hex'), bytes };
}
