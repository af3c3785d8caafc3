// The age format (npm age-encryption: pure-JS ChaCha20-Poly1305 STREAM, X25519 recipients) against
// the backup's own chunk layer (node's OpenSSL AES-256-GCM, 64 KiB chunks: custody/backup-chunks.mjs)
// on the same random bytes, one thread each, in memory (no disk): what the cipher alone costs.
// Usage: npx tsx bench/backup-age.ts [MB]   (default 100)
import { createHash, randomBytes } from 'node:crypto';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { TAG, sealChunk, tryOpenChunk } from '../custody/backup-chunks.mjs';

const mb = Number(process.argv[2] ?? 100);
const data = randomBytes(Math.round(mb * 1e6));
const CHUNK = 64 * 1024;

async function collect(s: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const r = s.getReader();
  for (;;) {
    const { done, value } = await r.read();
    if (done) return out;
    out.push(value);
  }
}
function source(b: Uint8Array, piece = 1 << 20): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= b.length) return c.close();
      c.enqueue(b.subarray(at, at + piece));
      at += piece;
    },
  });
}
const secs = async (f: () => Promise<unknown> | unknown) => {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e9;
};

const identity = await generateX25519Identity();
const recipient = await identityToRecipient(identity);
let sealed: Uint8Array[] = [];
const ageEnc = await secs(async () => {
  const e = new Encrypter();
  e.addRecipient(recipient);
  sealed = await collect(await e.encrypt(source(data)));
});
let plainLen = 0;
const ageDec = await secs(async () => {
  const d = new Decrypter();
  d.addIdentity(identity);
  for (const p of await collect(await d.decrypt(source(Buffer.concat(sealed))))) plainLen += p.length;
});
if (plainLen !== data.length) throw new Error('age round trip lost bytes');

const key = randomBytes(32);
const prefix = randomBytes(7);
const aad = randomBytes(32);
const out: Buffer[] = [];
const n = Math.ceil(data.length / CHUNK);
const gcmEnc = await secs(() => {
  for (let i = 0; i < n; i++) sealChunk(key, prefix, aad, i, i === n - 1, data.subarray(i * CHUNK, (i + 1) * CHUNK), out);
});
const file = Buffer.concat(out);
let got = 0;
const gcmDec = await secs(() => {
  for (let i = 0; i < n; i++) {
    const at = i * (CHUNK + TAG);
    const pt = tryOpenChunk(key, prefix, aad, i, i === n - 1, file.subarray(at, Math.min(file.length, at + CHUNK + TAG)));
    if (!pt) throw new Error('chunk failed');
    got += pt.length;
  }
});
if (got !== data.length) throw new Error('gcm round trip lost bytes');
const sha = await secs(() => createHash('sha256').update(file).digest());

const r = (t: number) => (data.length / 1e6 / t).toFixed(0);
console.log(`${mb} MB random, one thread, in memory`);
console.log('| cipher | encrypt MB/s | decrypt MB/s |');
console.log('|---|---|---|');
console.log(`| age-encryption ${'0.3.1'} (ChaCha20-Poly1305, JS) | ${r(ageEnc)} | ${r(ageDec)} |`);
console.log(`| backup chunks (AES-256-GCM, OpenSSL) | ${r(gcmEnc)} | ${r(gcmDec)} |`);
console.log(`| SHA-256 of the ciphertext (the signed digest) | ${r(sha)} | |`);
