import { randomBytes } from 'node:crypto';
import { cp, lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplianceError, checkFormatVersion, FORMAT_VERSIONS, fsyncDir, sha256File, writeFileAtomic, pidAlive, type ItemMetadata, type PageText } from '../core/index.ts';
import { parseArchivalCode } from './archival-code.ts';
import { ItemIndex } from './item-index.ts';
import { checkItemMetadata, ITEM_ID } from './item-schema.ts';
import { formatManifest, listTree, MANIFEST_NAME, parseManifest, type ManifestEntry } from './manifest.ts';

/**
 * An item laid out by the ingest runner in a folder of its own: original/<name> for every
 * entry of meta.originals, pages/0001.jpg|png … for every page, text.json (PageText[]) and
 * document.pdf. The store adds item.json and the manifest and moves the folder into place.
 */
export interface StagedItem {
  meta: ItemMetadata;
  dir: string;
}

/** The item folder's layout (docs/FORMATS.md), owned here; the runner lays a StagedItem out with it. */
export const ITEM_LAYOUT = {
  original: (name: string) => join('original', name),
  page: (n: number) => join('pages', `${String(n).padStart(4, '0')}.jpg`),
  text: 'text.json',
  pdf: 'document.pdf',
  dirs: ['original', 'pages'],
} as const;

/** Result of checking an item's files against its manifest (fixity, as Archivematica words it). */
export interface ItemVerification {
  itemId: string;
  status: 'ok' | 'damaged';
  /** Files whose hash was checked. */
  checked: number;
  /** In the manifest, present, different bytes. */
  changed: string[];
  /** In the manifest, not on disk. */
  missing: string[];
  /** On disk, not in the manifest (including links and other non-files). */
  untracked: string[];
}

type Editable = 'archivalCode' | 'title' | 'docNumber' | 'responsible' | 'date' | 'classification' | 'posts' | 'sharing';
/** Catalogue fields an archivist may change; null clears an optional field. 档号 parts follow the 档号. */
export type ItemMetadataPatch = { [K in Editable]?: ItemMetadata[K] | null };

export interface PageFile {
  path: string;
  contentType: 'image/jpeg' | 'image/png';
}

const ITEM_JSON = 'item.json';
const PAGE_FILE = /^pages\/(\d{4,6})\.(jpg|png)$/;
const TMP_NAME = /^\.[0-9a-f]{12}\.tmp$/;

const notFound = (id: string) => new ApplianceError('ITEM_NOT_FOUND', `条目不存在：${id}`, `no such item: ${id}`, { status: 404, details: { itemId: id } });

/**
 * The item store under data/items/ (../shared/DESIGN.md): the archive's source of truth.
 * items/<shard>/<itemId>/ where shard is the id's last two characters (its random part, so
 * items spread evenly). An item is built in items/.tmp/, every file fsynced, then renamed into
 * place: it is all there or absent. One ItemStore per data dir and process (the run lock makes
 * sure only one appliance process writes): changes are serialised inside it.
 */
export class ItemStore {
  readonly root: string;
  private readonly tmpRoot: string;
  private readonly index: ItemIndex;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly changeListeners = new Set<(itemId: string) => void>();

  private constructor(dataDir: string) {
    this.root = join(dataDir, 'items');
    this.tmpRoot = join(this.root, '.tmp');
    this.index = new ItemIndex(join(this.root, 'index.jsonl'), join(this.root, '.index-dirty'));
  }

  /** Open the store: clear what a crashed write left in .tmp, load or rebuild the index. */
  static async open(dataDir: string): Promise<ItemStore> {
    const store = new ItemStore(dataDir);
    await mkdir(store.tmpRoot, { recursive: true, mode: 0o700 });
    await store.cleanTmp();
    store.rebuiltOnOpen = await store.index.load(await store.idsOnDisk(), (id) => store.getItem(id).catch(() => undefined));
    return store;
  }

  /** True when open() found the index untrustworthy and rebuilt it from item.json files. */
  rebuiltOnOpen = false;

  /**
   * Be told the id of every item this store (this process) stores, replaces or edits, once the
   * change may be on disk (a failed write may be told too: a listener re-reads the item). Derived
   * data (the shared index of 联合检索) follows changes with it instead of reading every item.json;
   * a change made by another process or before the listener was added is not told. Returns the
   * function that stops it.
   */
  onChange(listener: (itemId: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  get count(): number {
    return this.index.size;
  }

  itemDir(id: string): string {
    if (!ITEM_ID.test(id)) throw notFound(id);
    return join(this.root, id.slice(-2), id);
  }

  /** Whether the item is on disk (the truth, not the index). */
  async itemExists(id: string): Promise<boolean> {
    if (!ITEM_ID.test(id)) return false;
    return (await stat(join(this.itemDir(id), ITEM_JSON)).catch(() => undefined)) !== undefined;
  }

  /** Store an item (see StagedItem). Idempotent for the same id and sources: a resumed job may call it twice. */
  putItem(staged: StagedItem): Promise<ItemMetadata> {
    return this.serial(() => this.put(staged));
  }

  async getItem(id: string): Promise<ItemMetadata | undefined> {
    if (!ITEM_ID.test(id)) return undefined;
    const dir = this.itemDir(id);
    if (await this.needsRecovery(dir)) await this.serial(() => recoverItemDir(dir));
    let raw: string;
    try {
      raw = await readFile(join(dir, ITEM_JSON), 'utf8');
    } catch {
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    checkFormatVersion('item.json', (parsed as { formatVersion?: unknown } | undefined)?.formatVersion, `条目 ${id} 的 item.json`);
    const r = checkItemMetadata(parsed);
    if (!r.ok || r.value.itemId !== id) {
      throw new ApplianceError('ITEM_CORRUPT', `条目 ${id} 的元数据（item.json）已损坏，请运行完整性校验。`, `item.json of ${id} is corrupt${r.ok ? ': wrong itemId' : `: ${r.problems.join('; ')}`}`, {
        status: 500,
        details: { itemId: id },
      });
    }
    return r.value;
  }

  /** Metadata and page texts, as the indexer needs them. */
  async loadStored(id: string): Promise<{ meta: ItemMetadata; pages: PageText[] }> {
    const meta = await this.getItem(id);
    if (!meta) throw notFound(id);
    return { meta, pages: await this.readText(id) };
  }

  async readText(id: string): Promise<PageText[]> {
    try {
      const text = JSON.parse(await readFile(join(this.itemDir(id), 'text.json'), 'utf8')) as unknown;
      // Version 1 is the bare array of pages; a later version is an object naming its formatVersion.
      if (!Array.isArray(text)) checkFormatVersion('text.json', (text as { formatVersion?: unknown } | null)?.formatVersion ?? 0, `条目 ${id} 的 text.json`);
      return text as PageText[];
    } catch (e) {
      if (e instanceof ApplianceError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw new ApplianceError('ITEM_CORRUPT', `条目 ${id} 的文字层（text.json）无法读取。`, `text.json of ${id} unreadable: ${(e as Error).message}`, { status: 500 });
    }
  }

  /** The file of page n (1-based) for streaming; ITEM_PAGE_NOT_FOUND outside 1..pageCount. */
  async pageFile(id: string, n: number): Promise<PageFile> {
    const meta = await this.getItem(id);
    if (!meta) throw notFound(id);
    if (!Number.isInteger(n) || n < 1 || n > meta.pageCount) {
      throw new ApplianceError('ITEM_PAGE_NOT_FOUND', `条目 ${id} 没有第 ${n} 页（共 ${meta.pageCount} 页）。`, `item ${id} has no page ${n}`, { status: 404 });
    }
    const base = join(this.itemDir(id), 'pages', String(n).padStart(4, '0'));
    for (const [ext, contentType] of [
      ['jpg', 'image/jpeg'],
      ['png', 'image/png'],
    ] as const) {
      if (
        await lstat(`${base}.${ext}`).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        return { path: `${base}.${ext}`, contentType };
    }
    throw new ApplianceError('ITEM_CORRUPT', `条目 ${id} 的第 ${n} 页图像缺失，请运行完整性校验。`, `page ${n} of ${id} missing`, { status: 500 });
  }

  async readPage(id: string, n: number): Promise<{ bytes: Buffer; contentType: PageFile['contentType'] }> {
    const f = await this.pageFile(id, n);
    return { bytes: await readFile(f.path), contentType: f.contentType };
  }

  documentPath(id: string): string {
    return join(this.itemDir(id), 'document.pdf');
  }

  /** Path of an original file; only names listed in item.json (nothing a request could traverse with). */
  async originalPath(id: string, name: string): Promise<string> {
    const meta = await this.getItem(id);
    if (!meta) throw notFound(id);
    if (!meta.originals.some((o) => o.name === name)) throw new ApplianceError('ITEM_FILE_NOT_FOUND', `条目 ${id} 中没有原件 ${name}`, `item ${id} has no original ${name}`, { status: 404 });
    return join(this.itemDir(id), 'original', name);
  }

  /** Every item's metadata, oldest first (ids are time-ordered). */
  async *listItems(): AsyncGenerator<ItemMetadata> {
    for (const id of this.index.ids()) {
      const meta = await this.getItem(id).catch(() => undefined);
      if (meta) yield meta;
    }
  }

  ids(): string[] {
    return this.index.ids();
  }

  /** An item holding a source file with this SHA-256. */
  findBySourceSha256(sha256: string): string | undefined {
    return this.index.source(sha256.toLowerCase());
  }

  /** An item made of exactly these source files (in any order): the same submission again. */
  findBySources(sha256s: string[]): string | undefined {
    return this.index.sourceSet(sha256s.map((s) => s.toLowerCase()));
  }

  /** The item holding this 档号 (compared in normalised form). */
  findByArchivalCode(code: string): string | undefined {
    const p = parseArchivalCode(code);
    return this.index.code(p.ok ? p.value.archivalCode : code.trim());
  }

  /** Check every file of an item against its manifest. */
  async verifyItem(id: string): Promise<ItemVerification> {
    if (!ITEM_ID.test(id)) throw notFound(id);
    const dir = this.itemDir(id);
    if (!(await stat(dir).catch(() => undefined))) throw notFound(id);
    if (await this.needsRecovery(dir)) await this.serial(() => recoverItemDir(dir));
    const listing = await listTree(dir);
    const result: ItemVerification = { itemId: id, status: 'ok', checked: 0, changed: [], missing: [], untracked: [...listing.other] };
    const manifest = await readFile(join(dir, MANIFEST_NAME), 'utf8').then(parseManifest, () => undefined);
    if (!manifest) {
      result.missing.push(MANIFEST_NAME);
      result.untracked.push(...listing.files.filter((f) => f !== MANIFEST_NAME));
    } else {
      const onDisk = new Set(listing.files);
      for (const [path, sha] of manifest) {
        if (!onDisk.has(path)) {
          result.missing.push(path);
          continue;
        }
        result.checked++;
        if ((await sha256File(join(dir, path))) !== sha) result.changed.push(path);
      }
      for (const f of listing.files) if (f !== MANIFEST_NAME && !manifest.has(f)) result.untracked.push(f);
    }
    result.untracked.sort();
    if (result.changed.length || result.missing.length || result.untracked.length) result.status = 'damaged';
    return result;
  }

  /**
   * Change catalogue fields. item.json and the manifest are both replaced: the new versions are
   * written beside the old (.new) and the manifest's .new is the commit point, so a crash either
   * leaves the old pair or is rolled forward to the new pair on the next read.
   */
  updateMetadata(id: string, patch: ItemMetadataPatch, opts: { beforeWrite?: (next: ItemMetadata, before: ItemMetadata) => Promise<void> } = {}): Promise<ItemMetadata> {
    return this.serial(async () => {
      const meta = await this.getItem(id);
      if (!meta) throw notFound(id);
      const dir = this.itemDir(id);
      const next: ItemMetadata = { ...meta };
      const record = next as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(patch)) {
        if (!['archivalCode', 'title', 'docNumber', 'responsible', 'date', 'classification', 'posts', 'sharing'].includes(k) || v === undefined) continue;
        if (v === null) {
          if (k === 'classification' || k === 'posts') throw invalid([`${k}: required`]);
          delete record[k];
        } else record[k] = v;
      }
      if (patch.archivalCode === null) for (const k of ['fonds', 'year', 'retention', 'department', 'itemNo']) delete record[k];
      // The archivist has looked at the catalogue data and saved it: no longer 待著录 (a change of
      // 共享范围 alone, e.g. in bulk, is not a look at the catalogue data).
      if (Object.keys(patch).some((k) => k !== 'sharing')) delete record.cataloguePending;
      normaliseCode(next);
      next.updatedAt = new Date().toISOString();
      const checked = checkItemMetadata(next);
      if (!checked.ok) throw invalid(checked.problems);
      if (next.archivalCode) {
        const holder = this.index.code(next.archivalCode);
        if (holder && holder !== id) throw codeTaken(next.archivalCode, holder);
      }
      const manifest = await readFile(join(dir, MANIFEST_NAME), 'utf8').then(parseManifest, () => undefined);
      if (!manifest || !manifest.has(ITEM_JSON)) {
        throw new ApplianceError('ITEM_DAMAGED', `条目 ${id} 的清单（manifest）缺失或损坏，已拒绝修改；请先运行完整性校验。`, `manifest of ${id} missing or corrupt; refusing to update`, {
          status: 409,
        });
      }
      // Whatever must happen before the change may exist (a narrowing edit first takes the item out
      // of the old audience's search); if it throws, nothing is written. Inside the serial queue,
      // so no other edit of the store lands between it and the write.
      await opts.beforeWrite?.(checked.value, meta);
      // Other files keep the hashes the manifest already holds: an edit never blesses a damaged file.
      await this.index.markDirty();
      try {
        await writeFileAtomic(join(dir, `${ITEM_JSON}.new`), JSON.stringify({ ...checked.value, formatVersion: FORMAT_VERSIONS['item.json'] }, null, 1));
        manifest.set(ITEM_JSON, await sha256File(join(dir, `${ITEM_JSON}.new`)));
        await writeFileAtomic(join(dir, `${MANIFEST_NAME}.new`), formatManifest([...manifest].map(([path, sha256]) => ({ path, sha256 }))));
        await recoverItemDir(dir);
      } finally {
        this.changed(id);
      }
      await this.index.record(checked.value).catch(() => undefined); // marker stays: next open rebuilds
      return checked.value;
    });
  }

  // ---------------------------------------------------------------------------------------------

  private changed(id: string): void {
    for (const l of this.changeListeners) {
      try {
        l(id);
      } catch {
        // A listener's failure is its own; the store's write stands.
      }
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async needsRecovery(dir: string): Promise<boolean> {
    const names = await readdir(dir).catch(() => [] as string[]);
    return names.some((n) => n.endsWith('.new') || TMP_NAME.test(n));
  }

  private async idsOnDisk(): Promise<string[]> {
    const ids: string[] = [];
    for (const shard of await readdir(this.root)) {
      if (shard.startsWith('.') || !/^[0-9a-z_-]{2}$/.test(shard)) continue;
      const st = await lstat(join(this.root, shard));
      if (!st.isDirectory()) continue;
      for (const id of await readdir(join(this.root, shard))) {
        if (ITEM_ID.test(id) && id.slice(-2) === shard) ids.push(id);
      }
    }
    return ids.sort();
  }

  /** Leftovers of writes that never reached their rename: not items, never shown, removed. */
  private async cleanTmp(): Promise<void> {
    for (const name of await readdir(this.tmpRoot)) {
      const pid = Number(/^(\d+)-/.exec(name)?.[1]);
      if (pid && pid !== process.pid && pidAlive(pid)) continue; // another live process is writing it
      if (pid === process.pid) continue; // this process's own store may be mid-write
      const aside = /^\d+-(.+)-old-[0-9a-f]{8}$/.exec(name);
      if (aside && ITEM_ID.test(aside[1]) && !(await this.itemExists(aside[1]))) {
        // A replace (re-OCR) stopped between its two renames: the old item goes back in place.
        await mkdir(join(this.root, aside[1].slice(-2)), { recursive: true, mode: 0o700 });
        await rename(join(this.tmpRoot, name), this.itemDir(aside[1]));
        continue;
      }
      await rm(join(this.tmpRoot, name), { recursive: true, force: true });
    }
  }

  private async put(staged: StagedItem): Promise<ItemMetadata> {
    const { meta, checked } = this.prepare(staged.meta);
    const id = meta.itemId;
    const shas = meta.originals.map((o) => o.sha256);

    if (await this.itemExists(id)) {
      const existing = await this.getItem(id);
      if (existing && existing.originals.map((o) => o.sha256).join() === shas.join()) return existing;
      throw new ApplianceError('ITEM_EXISTS', `条目编号 ${id} 已被另一条目使用。`, `item id ${id} already holds other files`, { status: 409 });
    }
    const dup = this.findBySources(shas);
    if (dup) throw new ApplianceError('ITEM_DUPLICATE', '该文件已归档，未重复归档。', `same files as item ${dup}`, { status: 409, details: { itemId: dup } });
    if (meta.archivalCode) {
      const holder = this.index.code(meta.archivalCode);
      if (holder) throw codeTaken(meta.archivalCode, holder);
    }
    return this.sealAndPlace(staged.dir, meta, checked, async (tmp, target) => {
      await rename(tmp, target);
    });
  }

  /**
   * Replace an item's pages, text and PDF with a new reading of the same originals (re-OCR),
   * keeping its id and catalogue data. The old folder is moved aside before the new one takes
   * its place; a crash between the two renames is undone when the store next opens.
   */
  replaceItem(staged: StagedItem): Promise<ItemMetadata> {
    return this.serial(async () => {
      const id = staged.meta.itemId;
      const existing = await this.getItem(id);
      if (!existing) throw notFound(id);
      if (existing.originals.map((o) => o.sha256.toLowerCase()).join() !== staged.meta.originals.map((o) => o.sha256.toLowerCase()).join()) {
        throw new ApplianceError('ITEM_SOURCE_MISMATCH', `重新识别只能使用条目 ${id} 自己的原件。`, `re-OCR of ${id} with other originals`, { status: 409 });
      }
      const { meta, checked } = this.prepare({ ...staged.meta, createdAt: existing.createdAt, updatedAt: new Date().toISOString() });
      return this.sealAndPlace(staged.dir, meta, checked, async (tmp, target) => {
        const aside = join(this.tmpRoot, `${process.pid}-${id}-old-${randomBytes(4).toString('hex')}`);
        await rename(target, aside);
        await rename(tmp, target);
        await rm(aside, { recursive: true, force: true });
      });
    });
  }

  private prepare(given: ItemMetadata): { meta: ItemMetadata; checked: ItemMetadata } {
    const meta: ItemMetadata = { ...given, originals: given.originals.map((o) => ({ ...o, sha256: o.sha256.toLowerCase() })) };
    normaliseCode(meta);
    const checked = checkItemMetadata(meta);
    if (!checked.ok) throw invalid(checked.problems);
    return { meta, checked: checked.value };
  }

  /** Move a staged folder into items/.tmp, hash and seal it, then let `place` put it where it belongs. */
  private async sealAndPlace(src: string, meta: ItemMetadata, checked: ItemMetadata, place: (tmp: string, target: string) => Promise<void>): Promise<ItemMetadata> {
    const id = meta.itemId;
    await checkLayout(src, meta);
    const tmp = join(this.tmpRoot, `${process.pid}-${id}-${randomBytes(4).toString('hex')}`);
    let moved = false;
    let stored = false;
    try {
      try {
        await rename(src, tmp);
        moved = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        await cp(src, tmp, { recursive: true, errorOnExist: true, force: false });
      }
      const listing = await listTree(tmp);
      const entries: ManifestEntry[] = [];
      for (const path of listing.files) entries.push({ path, sha256: await sha256File(join(tmp, path), { sync: true }) });
      for (const o of meta.originals) {
        const e = entries.find((x) => x.path === `original/${o.name}`);
        if (e?.sha256 !== o.sha256) {
          throw new ApplianceError('ITEM_SOURCE_MISMATCH', `原件 ${o.name} 的内容与扫描时不一致，已拒绝归档。`, `original ${o.name} does not match its recorded SHA-256`, {
            status: 409,
            details: { name: o.name },
          });
        }
      }
      const written: ItemMetadata = { ...checked, formatVersion: FORMAT_VERSIONS['item.json'] };
      await writeFileAtomic(join(tmp, ITEM_JSON), JSON.stringify(written, null, 1));
      entries.push({ path: ITEM_JSON, sha256: await sha256File(join(tmp, ITEM_JSON)) });
      await writeFileAtomic(join(tmp, MANIFEST_NAME), formatManifest(entries));
      for (const d of listing.dirs) await fsyncDir(join(tmp, d));
      await fsyncDir(tmp);

      const shard = join(this.root, id.slice(-2));
      await mkdir(shard, { recursive: true, mode: 0o700 });
      await this.index.markDirty();
      try {
        await place(tmp, join(shard, id));
      } finally {
        this.changed(id);
      }
      moved = false;
      stored = true;
      await fsyncDir(shard);
      await fsyncDir(this.root);
      await this.index.record(written).catch(() => undefined); // marker stays: next open rebuilds
      return written;
    } catch (e) {
      if (stored) throw e; // in place: the item exists, only a sync failed
      // Leave the runner's folder as it was where we can; the temp dir never becomes an item.
      if (moved) {
        for (const f of [ITEM_JSON, MANIFEST_NAME]) await rm(join(tmp, f), { force: true });
        await rename(tmp, src).catch(() => undefined);
      }
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }
}

/**
 * The staged folder must hold exactly an item's files: the originals named in the metadata with
 * their sizes, pages 1..pageCount, text.json with one entry per page, document.pdf. Nothing
 * else (no links, no stray files), so what the manifest seals is what the runner meant to store.
 */
async function checkLayout(dir: string, meta: ItemMetadata): Promise<void> {
  const problems: string[] = [];
  let listing;
  try {
    listing = await listTree(dir);
  } catch (e) {
    throw new ApplianceError('ITEM_LAYOUT_INVALID', `待归档的目录无法读取：${dir}`, `staged item dir unreadable: ${(e as Error).message}`, { status: 500 });
  }
  for (const o of listing.other) problems.push(`not a regular file: ${o}`);
  for (const d of listing.dirs) if (d !== 'original' && d !== 'pages') problems.push(`unexpected folder: ${d}`);
  const expected = new Map<string, number | undefined>();
  for (const o of meta.originals) expected.set(`original/${o.name}`, o.bytes);
  expected.set('text.json', undefined);
  expected.set('document.pdf', undefined);
  const pages = new Set<number>();
  for (const f of listing.files) {
    const page = PAGE_FILE.exec(f);
    if (page) {
      const n = Number(page[1]);
      if (pages.has(n) || page[1] !== String(n).padStart(4, '0')) problems.push(`duplicate or misnamed page: ${f}`);
      pages.add(n);
    } else if (!expected.has(f)) problems.push(`unexpected file: ${f}`);
  }
  for (const [f, bytes] of expected) {
    if (!listing.files.includes(f)) problems.push(`missing: ${f}`);
    else if (bytes !== undefined && (await stat(join(dir, f))).size !== bytes) problems.push(`size differs from metadata: ${f}`);
  }
  for (let n = 1; n <= meta.pageCount; n++) if (!pages.has(n)) problems.push(`missing page ${n}`);
  if (pages.size !== meta.pageCount) problems.push(`${pages.size} page images for pageCount ${meta.pageCount}`);
  if (listing.files.includes('text.json')) {
    try {
      const text = JSON.parse(await readFile(join(dir, 'text.json'), 'utf8')) as unknown;
      if (!Array.isArray(text) || text.length !== meta.pageCount) problems.push(`text.json must hold ${meta.pageCount} pages`);
    } catch {
      problems.push('text.json is not JSON');
    }
  }
  if (problems.length) {
    throw new ApplianceError(
      'ITEM_LAYOUT_INVALID',
      `待归档条目 ${meta.itemId} 的文件不完整或有多余内容：${problems.slice(0, 5).join('；')}`,
      `staged item ${meta.itemId} invalid: ${problems.join('; ')}`,
      {
        status: 500,
        details: { problems },
      },
    );
  }
}

/**
 * Finish or undo an interrupted metadata update (see updateMetadata) and drop temp files a
 * crashed atomic write left behind.
 */
async function recoverItemDir(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let changed = false;
  if (names.includes(`${MANIFEST_NAME}.new`)) {
    if (names.includes(`${ITEM_JSON}.new`)) await rename(join(dir, `${ITEM_JSON}.new`), join(dir, ITEM_JSON));
    await rename(join(dir, `${MANIFEST_NAME}.new`), join(dir, MANIFEST_NAME));
    changed = true;
  } else if (names.includes(`${ITEM_JSON}.new`)) {
    await rm(join(dir, `${ITEM_JSON}.new`), { force: true });
    changed = true;
  }
  for (const n of names) {
    if (TMP_NAME.test(n)) {
      await rm(join(dir, n), { force: true });
      changed = true;
    }
  }
  if (changed) await fsyncDir(dir);
}

/** 档号 in normalised form with its parts filled in from it (the code is the authority). */
function normaliseCode(meta: ItemMetadata): void {
  if (meta.archivalCode === undefined) return;
  const p = parseArchivalCode(meta.archivalCode);
  if (!p.ok) throw invalid([`archivalCode: ${p.reason}`]);
  Object.assign(meta, p.value);
}

function invalid(problems: string[]): ApplianceError {
  return new ApplianceError('ITEM_METADATA_INVALID', `条目元数据有误：${problems.join('；')}`, `invalid item metadata: ${problems.join('; ')}`, { status: 400, details: { problems } });
}

function codeTaken(code: string, holder: string): ApplianceError {
  return new ApplianceError('ARCHIVAL_CODE_TAKEN', `档号 ${code} 已被占用，档号必须唯一。`, `archival code ${code} already used by ${holder}`, {
    status: 409,
    details: { archivalCode: code, itemId: holder },
  });
}
