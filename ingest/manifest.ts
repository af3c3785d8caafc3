import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** BagIt-style payload manifest: one "<sha256>  <path>" line per file, paths relative, sorted. */
export const MANIFEST_NAME = 'manifest-sha256.txt';

export interface ManifestEntry {
  path: string;
  sha256: string;
}

/** BagIt escapes only CR, LF and % in paths. */
const encodePath = (p: string) => p.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const decodePath = (p: string) => p.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%');

export function formatManifest(entries: ManifestEntry[]): string {
  return [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((e) => `${e.sha256}  ${encodePath(e.path)}\n`)
    .join('');
}

/** Parse a manifest; undefined if any line is malformed or a path repeats (then nothing is trusted). */
export function parseManifest(text: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!m) return undefined;
    const path = decodePath(m[2]);
    if (out.has(path) || path.split('/').some((c) => c === '' || c === '.' || c === '..')) return undefined;
    out.set(path, m[1]);
  }
  return out;
}

export interface TreeListing {
  /** Regular files, relative paths with "/". */
  files: string[];
  /** Folders, relative. */
  dirs: string[];
  /** Anything else (symlinks, sockets, devices): never part of an item. */
  other: string[];
}

/** Every entry under dir (lstat: links are not followed), skipping names for which skip() is true. */
export async function listTree(dir: string, skip: (rel: string) => boolean = () => false): Promise<TreeListing> {
  const out: TreeListing = { files: [], dirs: [], other: [] };
  const walk = async (rel: string) => {
    for (const name of await readdir(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const st = await lstat(join(dir, r));
      if (st.isDirectory()) {
        out.dirs.push(r);
        await walk(r);
      } else if (st.isFile()) out.files.push(r);
      else out.other.push(r);
    }
  };
  await walk('');
  out.files.sort();
  out.dirs.sort();
  return out;
}
