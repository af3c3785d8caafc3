import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { dataPath, withFileLock } from '../core/index.ts';
import { ITEM_ID, MANIFEST_NAME, parseManifest } from '../ingest/index.ts';
import { HEAD_FILE, LOCK_FILE, VERIFICATION_KEY_FILE } from '../security/index.ts';
import { itemShardPath } from './backup-entries.ts';
import type { TarSource } from './backup-tar.ts';

/**
 * What a backup of a live data dir takes, and why it is consistent without stopping the appliance:
 * - items are immutable once renamed into place; only item.json and the manifest change (a
 *   metadata edit replaces both by rename). Those two are read into memory first and re-read
 *   until item.json matches the manifest's hash of it, so the pair is from one edit.
 * - the audit trail: file sizes and head.json are taken under the trail's append lock, and each
 *   file is read only up to that size — the snapshot is exactly the chain at that moment.
 * - config/ and jobs/ files are replaced by rename: an open file is always one whole version.
 * Hidden names (locks, temp files, items/.tmp, the index's dirty marker, the audit sealing key
 * audit/.seal-key, which must never leave the machine), the auditor's waiting verification key
 * config/audit-verification-key.txt and the derived
 * items/index.jsonl (rebuilt by the store on open) are left out.
 */
export interface CollectedSources {
  sources: TarSource[];
  items: Record<string, string>;
  included: string[];
  damaged: string[];
  bytes: number;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function walkFiles(root: string, rel: string, out: TarSource[], prefix: string): Promise<void> {
  const names = await readdir(join(root, rel)).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
  for (const name of names.sort()) {
    if (name.startsWith('.') || name.endsWith('.new')) continue;
    const r = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, r)).catch(() => undefined);
    if (!st) continue; // removed meanwhile (a finished job)
    if (st.isDirectory()) await walkFiles(root, r, out, prefix);
    else if (st.isFile()) out.push({ path: `${prefix}/${r}`, file: join(root, r), size: st.size, mtime: st.mtime });
  }
}

async function auditSnapshot(dir: string): Promise<TarSource[]> {
  const take = async () => {
    const out: TarSource[] = [];
    for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
      if (name.startsWith('.') || name === LOCK_FILE) continue;
      const path = join(dir, name);
      const st = await lstat(path);
      if (!st.isFile()) continue;
      if (name === HEAD_FILE) {
        const data = await readFile(path);
        out.push({ path: `audit/${name}`, data, size: data.length, mtime: st.mtime });
      } else out.push({ path: `audit/${name}`, file: path, size: st.size, mtime: st.mtime });
    }
    return out;
  };
  return withFileLock(join(dir, LOCK_FILE), take);
}

async function itemIds(itemsRoot: string): Promise<string[]> {
  const ids: string[] = [];
  for (const shard of await readdir(itemsRoot).catch(() => [] as string[])) {
    if (shard.startsWith('.') || !/^[0-9a-z_-]{2}$/.test(shard)) continue;
    if (!(await lstat(join(itemsRoot, shard))).isDirectory()) continue;
    for (const id of await readdir(join(itemsRoot, shard))) if (ITEM_ID.test(id) && id.slice(-2) === shard) ids.push(id);
  }
  return ids.sort();
}

/** item.json and manifest read as a pair from one version (see above). */
async function itemPair(dir: string): Promise<{ manifest: Buffer; itemJson: Buffer; consistent: boolean }> {
  let last = { manifest: Buffer.alloc(0), itemJson: Buffer.alloc(0), consistent: false };
  for (let attempt = 0; attempt < 5; attempt++) {
    const manifest = await readFile(join(dir, MANIFEST_NAME)).catch(() => Buffer.alloc(0));
    const itemJson = await readFile(join(dir, 'item.json')).catch(() => Buffer.alloc(0));
    const m = parseManifest(manifest.toString('utf8'));
    last = { manifest, itemJson, consistent: m?.get('item.json') === sha(itemJson) };
    if (last.consistent) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}

/** Gather the backup's entries; with parentItems, only items new or changed since then. */
export async function collectSources(dataDir: string, parentItems?: Record<string, string>): Promise<CollectedSources> {
  const sources: TarSource[] = [];
  await walkFiles(dataPath(dataDir, 'config'), '', sources, 'config');
  // The auditor's verification key, while it waits to be taken away, never leaves in a backup:
  // with it anyone could re-make every seal.
  const vk = sources.findIndex((s) => s.path === `config/${VERIFICATION_KEY_FILE}`);
  if (vk >= 0) sources.splice(vk, 1);
  await walkFiles(dataPath(dataDir, 'jobs'), '', sources, 'jobs');
  sources.push(...(await auditSnapshot(dataPath(dataDir, 'audit'))));
  const itemsRoot = dataPath(dataDir, 'items');
  const items: Record<string, string> = {};
  const included: string[] = [];
  const damaged: string[] = [];
  for (const id of await itemIds(itemsRoot)) {
    const dir = join(itemsRoot, id.slice(-2), id);
    const { manifest, itemJson, consistent } = await itemPair(dir);
    const manifestSha = sha(manifest);
    items[id] = manifestSha;
    if (parentItems && parentItems[id] === manifestSha) continue;
    included.push(id);
    if (!consistent) damaged.push(id);
    const base = itemShardPath(id);
    const files: TarSource[] = [];
    await walkFiles(dir, '', files, base);
    const mtime = (await stat(dir)).mtime;
    for (const f of files) {
      if (f.path === `${base}/item.json`) sources.push({ ...f, file: undefined, data: itemJson, size: itemJson.length, mtime });
      else if (f.path === `${base}/${MANIFEST_NAME}`) sources.push({ ...f, file: undefined, data: manifest, size: manifest.length, mtime });
      else sources.push(f);
    }
  }
  return { sources, items, included, damaged, bytes: sources.reduce((n, s) => n + s.size, 0) };
}
