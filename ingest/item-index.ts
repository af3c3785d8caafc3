import { createHash } from 'node:crypto';
import { open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir, pathExists, writeFileAtomic, type ItemMetadata } from '../core/index.ts';

/** What duplicate detection and 档号 uniqueness need to know of one item. */
export interface IndexEntry {
  id: string;
  code?: string;
  sources: string[];
}

/** Key of an item's exact set of source files, whatever order they came in. */
export function sourceSetKey(sha256s: string[]): string {
  return createHash('sha256')
    .update([...sha256s].sort().join('\n'))
    .digest('hex');
}

/**
 * The lookup index of the item store (items/index.jsonl): derived data, rebuilt from the
 * item.json files whenever it cannot be trusted. It is appended to (one line per stored or
 * changed item, the last line for an id wins) rather than rewritten, so storing an item costs
 * one small write however large the archive grows. A marker file is written before each change
 * and removed after the line is appended: a crash in between leaves the marker, and the next
 * open rebuilds.
 */
export class ItemIndex {
  private entries = new Map<string, IndexEntry>();
  private bySource = new Map<string, string>();
  private bySet = new Map<string, string>();
  private byCode = new Map<string, string>();

  constructor(
    private readonly file: string,
    private readonly dirtyMarker: string,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  ids(): string[] {
    return [...this.entries.keys()].sort();
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  source(sha256: string): string | undefined {
    return this.bySource.get(sha256);
  }

  sourceSet(sha256s: string[]): string | undefined {
    return this.bySet.get(sourceSetKey(sha256s));
  }

  code(code: string): string | undefined {
    return this.byCode.get(code);
  }

  /**
   * Load the index, or rebuild it when it is missing, unparsable, marked dirty, or does not name
   * exactly the items on disk. Returns whether it was rebuilt.
   */
  async load(idsOnDisk: string[], readMeta: (id: string) => Promise<ItemMetadata | undefined>): Promise<boolean> {
    const dirty = await pathExists(this.dirtyMarker);
    const parsed = dirty ? undefined : await this.parse();
    const disk = new Set(idsOnDisk);
    if (parsed && parsed.size === disk.size && [...parsed.keys()].every((id) => disk.has(id))) {
      this.reset([...parsed.values()]);
      return false;
    }
    const rebuilt: IndexEntry[] = [];
    for (const id of idsOnDisk) {
      const meta = await readMeta(id);
      if (meta) rebuilt.push(entryOf(meta));
    }
    this.reset(rebuilt);
    await writeFileAtomic(this.file, rebuilt.map((e) => `${JSON.stringify(e)}\n`).join(''));
    await rm(this.dirtyMarker, { force: true });
    await fsyncDir(dirname(this.dirtyMarker));
    return true;
  }

  /** Call before changing items on disk. */
  async markDirty(): Promise<void> {
    await writeFileAtomic(this.dirtyMarker, `${process.pid}\n`);
  }

  /**
   * Record the item as it now is, then clear the marker. The in-memory index is updated first:
   * if the append fails, this process still answers correctly and the marker makes the next
   * open rebuild.
   */
  async record(meta: ItemMetadata): Promise<void> {
    const entry = entryOf(meta);
    this.put(entry);
    const fh = await open(this.file, 'a', 0o600);
    try {
      await fh.write(`${JSON.stringify(entry)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rm(this.dirtyMarker, { force: true });
  }

  private async parse(): Promise<Map<string, IndexEntry> | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return undefined;
    }
    const out = new Map<string, IndexEntry>();
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const e = JSON.parse(line) as IndexEntry;
        if (typeof e.id !== 'string' || !Array.isArray(e.sources) || (e.code !== undefined && typeof e.code !== 'string')) return undefined;
        out.set(e.id, e);
      } catch {
        return undefined;
      }
    }
    return out;
  }

  private reset(entries: IndexEntry[]): void {
    this.entries.clear();
    this.bySource.clear();
    this.bySet.clear();
    this.byCode.clear();
    for (const e of entries) this.put(e);
  }

  private put(e: IndexEntry): void {
    const old = this.entries.get(e.id);
    if (old?.code && this.byCode.get(old.code) === e.id) this.byCode.delete(old.code);
    this.entries.set(e.id, e);
    for (const s of e.sources) if (!this.bySource.has(s)) this.bySource.set(s, e.id);
    this.bySet.set(sourceSetKey(e.sources), e.id);
    if (e.code) this.byCode.set(e.code, e.id);
  }
}

function entryOf(meta: ItemMetadata): IndexEntry {
  return { id: meta.itemId, ...(meta.archivalCode ? { code: meta.archivalCode } : {}), sources: meta.originals.map((o) => o.sha256) };
}
