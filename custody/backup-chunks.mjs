// The chunk layer of the backup format (see backup-crypto.ts for the whole format), used by
// backup-worker.mjs. Plain JavaScript: worker threads load modules without the TypeScript loader.
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const TAG = 16;
/** The Ed25519 signature that ends a backup file, over SIG_DOMAIN ‖ SHA-256(every byte before it). */
export const SIG_LEN = 64;
export const SIG_DOMAIN = Buffer.from('archive-backup v2 signature\n', 'utf8');

/** noncePrefix(7) ‖ u32 BE counter ‖ final flag(1). */
function chunkNonce(prefix, counter, final) {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 7);
  n.writeUInt32BE(counter, 7);
  n[11] = final ? 1 : 0;
  return n;
}

/** Seal one chunk: pushes ciphertext and tag onto `out`. */
export function sealChunk(key, prefix, aad, counter, final, plaintext, out) {
  if (counter > 0xffffffff) throw new Error('backup too large for one stream');
  const c = createCipheriv('aes-256-gcm', key, chunkNonce(prefix, counter, final));
  c.setAAD(aad);
  out.push(c.update(plaintext));
  c.final();
  out.push(c.getAuthTag());
}

/** Open one sealed chunk (ciphertext ‖ tag); undefined when it does not authenticate. */
export function tryOpenChunk(key, prefix, aad, counter, final, sealed) {
  const d = createDecipheriv('aes-256-gcm', key, chunkNonce(prefix, counter, final));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  const pt = d.update(sealed.subarray(0, sealed.length - TAG));
  try {
    d.final();
    return pt;
  } catch {
    return undefined;
  }
}

/** A FIFO of buffers that hands out exact byte counts without re-copying everything it holds. */
export class ByteQueue {
  parts = [];
  length = 0;

  push(b) {
    if (b.length) {
      this.parts.push(b);
      this.length += b.length;
    }
  }

  take(n) {
    const first = this.parts[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      this.length -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const p = this.parts[0];
      const k = Math.min(p.length, n - off);
      p.copy(out, off, 0, k);
      off += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.length -= n;
    return out;
  }
}
