import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { MatchPage } from './page-match.ts';

/**
 * The page texts of every indexed item, as the index holds them (normalized), one small file per
 * item under the data dir's texts/ folder: what the query service reads to name an item's
 * matching pages and cut its snippet. Derived data like meili/: written when an item is indexed,
 * rebuilt by `archive reindex`, not backed up.
 *
 * Why not in the item document: carried in every hit, ~8 KB of JSON each, a result page of 20
 * made Meilisearch's answer ~160 KB, which cost ~1 ms more to send and parse than the hits
 * themselves (bench/search.ts). A small file here is read straight from the page cache, and
 * UTF-16 decodes by copying.
 *
 * A file is trusted only for the contentHash it names (the hit's own; a stale or torn file is
 * ignored and the pages index answers instead). It is only ever read for items the viewer's own
 * tenant-token query returned: it holds no access decision.
 *
 * File: "PTX1" | contentHash (32 bytes) | page count n (u32 LE) | CRC-32 of the rest (u32 LE)
 *       | n page lengths in UTF-16 code units (u32 LE) | the pages, UTF-16LE, back to back.
 */
const MAGIC = Buffer.from('PTX1', 'latin1');
const HEAD = 4 + 32 + 4 + 4;

function shard(itemId: string): string {
  return createHash('sha256').update(itemId).digest('hex').slice(0, 2);
}

export function encodeTexts(hash: string, texts: string[]): Buffer {
  const body = Buffer.allocUnsafe(4 * texts.length + 2 * texts.reduce((n, t) => n + t.length, 0));
  let at = 0;
  for (const t of texts) at = body.writeUInt32LE(t.length, at);
  for (const t of texts) at += body.write(t, at, 'utf16le');
  const head = Buffer.alloc(HEAD);
  MAGIC.copy(head, 0);
  Buffer.from(hash, 'hex').copy(head, 4, 0, 32);
  head.writeUInt32LE(texts.length, 36);
  head.writeUInt32LE(crc32(body), 40);
  return Buffer.concat([head, body]);
}

/** The pages in a file, or undefined when it is not a whole file for this contentHash. */
export function decodeTexts(buf: Buffer, hash: string): MatchPage[] | undefined {
  if (buf.length < HEAD || !buf.subarray(0, 4).equals(MAGIC) || buf.toString('hex', 4, 36) !== hash) return undefined;
  const n = buf.readUInt32LE(36);
  if (buf.length < HEAD + 4 * n || crc32(buf.subarray(HEAD)) !== buf.readUInt32LE(40)) return undefined;
  let at = HEAD + 4 * n;
  const pages: MatchPage[] = [];
  for (let i = 0; i < n; i++) {
    const end = at + 2 * buf.readUInt32LE(HEAD + 4 * i);
    if (end > buf.length) return undefined;
    pages.push({ page: i + 1, text: buf.toString('utf16le', at, end) });
    at = end;
  }
  return at === buf.length ? pages : undefined;
}

export class PageTextStore {
  private seq = 0;

  constructor(private readonly root: string) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }

  private file(itemId: string): string {
    return join(this.root, shard(itemId), itemId);
  }

  /**
   * Written to a temp name and renamed over, not fsynced: after a crash a file is whole, absent or
   * rejected by its CRC, and the pages index answers for it until the next index or reindex.
   */
  async write(itemId: string, hash: string, texts: string[]): Promise<void> {
    const f = this.file(itemId);
    const tmp = `${f}.${process.pid}-${++this.seq}.tmp`;
    await mkdir(join(this.root, shard(itemId)), { recursive: true, mode: 0o700 });
    try {
      await writeFile(tmp, encodeTexts(hash, texts), { mode: 0o600 });
      await rename(tmp, f);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Synchronous on purpose: a page of hits' small files read from the page cache in less time than
   * the thread pool's open/stat/read/close round trips would take (bench/search.ts).
   */
  read(itemId: string, hash: string): MatchPage[] | undefined {
    let buf: Buffer;
    try {
      buf = readFileSync(this.file(itemId));
    } catch {
      return undefined;
    }
    return decodeTexts(buf, hash);
  }

  async remove(itemId: string): Promise<void> {
    await rm(this.file(itemId), { force: true });
  }

  /**
   * Remove the files of items not in keep (after a rebuild from the item store), and temp files
   * left by a crash (an hour old: a write in flight is never that old).
   */
  async sweep(keep: Set<string>): Promise<number> {
    let removed = 0;
    const old = Date.now() - 3_600_000;
    for (const d of await readdir(this.root).catch(() => [] as string[])) {
      for (const f of await readdir(join(this.root, d)).catch(() => [] as string[])) {
        const path = join(this.root, d, f);
        if (f.endsWith('.tmp')) {
          const st = await stat(path).catch(() => undefined);
          if (st && st.mtimeMs >= old) continue;
        } else if (keep.has(f)) continue;
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
