import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceError } from '../../core/errors.ts';
import { ItemStore, MANIFEST_NAME, parseManifest } from '../../ingest/index.ts';
import { cleanup, ROOT, tempDir } from '../support/appliance.ts';
import { stageItem } from '../support/staged-item.ts';

async function rejects(p: Promise<unknown>, code: string): Promise<ApplianceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApplianceError);
    expect((e as ApplianceError).code).toBe(code);
    return e as ApplianceError;
  }
  throw new Error(`expected ${code}`);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('item store', () => {
  let dataDir: string;
  let staging: string;
  let store: ItemStore;

  beforeAll(async () => {
    dataDir = await tempDir('items-');
    staging = await tempDir('staging-');
    store = await ItemStore.open(dataDir);
  });
  afterAll(async () => {
    await cleanup(dataDir);
    await cleanup(staging);
  });

  it('stores an item whole: item.json, originals byte for byte, pages, text, PDF and a manifest of every file', async () => {
    const original = Buffer.from('original scan bytes \u0000\u00ff');
    const s = await stageItem(staging, { pages: 3, originals: [{ name: '会议纪要 第1页.tif', bytes: original }] });
    const meta = await store.putItem(s);
    const dir = store.itemDir(meta.itemId);
    expect(dir).toBe(join(dataDir, 'items', meta.itemId.slice(-2), meta.itemId));
    expect(await stat(s.dir).catch(() => undefined)).toBeUndefined(); // moved, not copied
    expect(await readFile(join(dir, 'original', '会议纪要 第1页.tif'))).toEqual(original);
    expect(JSON.parse(await readFile(join(dir, 'item.json'), 'utf8'))).toEqual(meta);

    const manifestText = await readFile(join(dir, MANIFEST_NAME), 'utf8');
    const manifest = parseManifest(manifestText)!;
    expect([...manifest.keys()].sort()).toEqual(['document.pdf', 'item.json', 'original/会议纪要 第1页.tif', 'pages/0001.jpg', 'pages/0002.jpg', 'pages/0003.jpg', 'text.json']);
    for (const line of manifestText.trimEnd().split('\n')) expect(line).toMatch(/^[0-9a-f]{64} {2}\S/);
    for (const [path, h] of manifest) expect(sha(await readFile(join(dir, path)))).toBe(h);
    expect(manifest.get('original/会议纪要 第1页.tif')).toBe(sha(original));

    expect(await store.getItem(meta.itemId)).toEqual(meta);
    expect(await store.itemExists(meta.itemId)).toBe(true);
    const page = await store.readPage(meta.itemId, 2);
    expect(page.contentType).toBe('image/jpeg');
    expect(page.bytes).toEqual(await readFile(join(dir, 'pages/0002.jpg')));
    const { pages } = await store.loadStored(meta.itemId);
    expect(pages.map((p) => p.text)).toEqual(['第1页', '第2页', '第3页']);
    expect(await store.originalPath(meta.itemId, '会议纪要 第1页.tif')).toBe(join(dir, 'original', '会议纪要 第1页.tif'));
    expect((await store.verifyItem(meta.itemId)).status).toBe('ok');
    await rejects(store.readPage(meta.itemId, 4), 'ITEM_PAGE_NOT_FOUND');
    await rejects(store.originalPath(meta.itemId, '../item.json'), 'ITEM_FILE_NOT_FOUND');
    expect(await store.getItem('../../etc')).toBeUndefined();
    expect(await readdir(join(dataDir, 'items', '.tmp'))).toEqual([]);
  });

  it('is idempotent for a resumed job, and recognises the same files submitted again', async () => {
    const a = Buffer.from('page one');
    const b = Buffer.from('page two');
    const s = await stageItem(staging, {
      originals: [
        { name: '1.jpg', bytes: a },
        { name: '2.jpg', bytes: b },
      ],
    });
    const meta = await store.putItem(s);
    // The runner re-lays the folder and calls again after a crash: same id, same files.
    const again = await stageItem(staging, {
      meta: { itemId: meta.itemId },
      originals: [
        { name: '1.jpg', bytes: a },
        { name: '2.jpg', bytes: b },
      ],
    });
    expect(await store.putItem(again)).toEqual(meta);
    expect(store.findBySourceSha256(sha(b))).toBe(meta.itemId);
    expect(store.findBySources([sha(b), sha(a)])).toBe(meta.itemId);
    expect(store.findBySources([sha(a)])).toBeUndefined();
    const dup = await stageItem(staging, {
      originals: [
        { name: 'x.jpg', bytes: b },
        { name: 'y.jpg', bytes: a },
      ],
    });
    const e = await rejects(store.putItem(dup), 'ITEM_DUPLICATE');
    expect(e.details?.itemId).toBe(meta.itemId);
    expect(await store.itemExists(dup.meta.itemId)).toBe(false);
  });

  it('normalises the 档号, fills its parts and keeps it unique', async () => {
    const s = await stageItem(staging, { meta: { archivalCode: 'j012－2014-y-bgs-42', title: '关于机构编制的通知' } });
    const meta = await store.putItem(s);
    expect(meta).toMatchObject({ archivalCode: 'J012-2014-Y-BGS-0042', fonds: 'J012', year: 2014, retention: 'Y', department: 'BGS', itemNo: 42 });
    expect(store.findByArchivalCode('J012-2014-Y-BGS-0042')).toBe(meta.itemId);
    expect(store.findByArchivalCode('J012-2014-Y-BGS-42')).toBe(meta.itemId);
    const other = await stageItem(staging, { meta: { archivalCode: 'J012-2014-Y-BGS-0042' } });
    await rejects(store.putItem(other), 'ARCHIVAL_CODE_TAKEN');
    await rejects(store.putItem(await stageItem(staging, { meta: { archivalCode: 'J012-2014-X-BGS-1' } })), 'ITEM_METADATA_INVALID');
  });

  it('refuses a bad staged item and changes nothing', async () => {
    const before = store.count;
    const cases: Array<[string, (s: { dir: string; meta: import('../../core/item.ts').ItemMetadata }) => Promise<void>, string]> = [
      ['extra file', (s) => writeFile(join(s.dir, 'notes.txt'), 'x'), 'ITEM_LAYOUT_INVALID'],
      ['missing page', (s) => unlink(join(s.dir, 'pages/0002.jpg')), 'ITEM_LAYOUT_INVALID'],
      ['symlink', (s) => symlink('/etc/passwd', join(s.dir, 'original', 'link.tif')), 'ITEM_LAYOUT_INVALID'],
      ['text.json page count', (s) => writeFile(join(s.dir, 'text.json'), '[]'), 'ITEM_LAYOUT_INVALID'],
      ['original size', (s) => appendFile(join(s.dir, 'original', 'scan.tif'), 'more'), 'ITEM_LAYOUT_INVALID'],
      ['original content (same size)', (s) => writeFile(join(s.dir, 'original', 'scan.tif'), Buffer.alloc(2048, 7)), 'ITEM_SOURCE_MISMATCH'],
      ['traversal name', async (s) => void (s.meta.originals[0].name = '../scan.tif'), 'ITEM_METADATA_INVALID'],
      ['classification', async (s) => void ((s.meta as { classification: string }).classification = '特密'), 'ITEM_METADATA_INVALID'],
      ['unknown key', async (s) => void ((s.meta as unknown as Record<string, unknown>).owner = 'x'), 'ITEM_METADATA_INVALID'],
      ['bad id', async (s) => void (s.meta.itemId = '../x'), 'ITEM_METADATA_INVALID'],
    ];
    for (const [what, spoil, code] of cases) {
      const s = await stageItem(staging);
      await spoil(s);
      const listing = JSON.stringify(await readdir(s.dir, { recursive: true }));
      const e = await rejects(store.putItem(s), code);
      expect(e.zh.length, what).toBeGreaterThan(0);
      expect(JSON.stringify(await readdir(s.dir, { recursive: true })), what).toBe(listing);
      expect(await store.itemExists(s.meta.itemId), what).toBe(false);
    }
    expect(store.count).toBe(before);
    expect(await readdir(join(dataDir, 'items', '.tmp'))).toEqual([]);
  });

  it('verify reports changed, missing and untracked files by path', async () => {
    const { itemId } = await store.putItem(await stageItem(staging, { pages: 3 }));
    const dir = store.itemDir(itemId);
    await writeFile(join(dir, 'pages/0001.jpg'), 'tampered');
    await unlink(join(dir, 'pages/0002.jpg'));
    await writeFile(join(dir, 'pages/0009.jpg'), 'added');
    await symlink('/etc/hostname', join(dir, 'original', 'link'));
    const v = await store.verifyItem(itemId);
    expect(v).toMatchObject({ itemId, status: 'damaged', changed: ['pages/0001.jpg'], missing: ['pages/0002.jpg'], untracked: ['original/link', 'pages/0009.jpg'] });
    await unlink(join(dir, MANIFEST_NAME));
    const noManifest = await store.verifyItem(itemId);
    expect(noManifest.status).toBe('damaged');
    expect(noManifest.missing).toEqual([MANIFEST_NAME]);
    expect(noManifest.untracked).toContain('item.json');
    await rejects(store.verifyItem('zzzzzzzzzzzz'), 'ITEM_NOT_FOUND');
    // A damaged item is not edited: an edit must not seal a tampered file into a new manifest.
    await rejects(store.updateMetadata(itemId, { title: 'x' }), 'ITEM_DAMAGED');
  });

  it('updates metadata and the manifest together', async () => {
    const { itemId } = await store.putItem(await stageItem(staging, { meta: { title: '旧题名', archivalCode: 'J012-2015-D30-RSK-0001' } }));
    const updated = await store.updateMetadata(itemId, { title: '新题名', posts: ['ZH', 'BGS-KY'], archivalCode: 'J012-2015-D10-RSK-0002', docNumber: null });
    expect(updated).toMatchObject({ title: '新题名', posts: ['ZH', 'BGS-KY'], archivalCode: 'J012-2015-D10-RSK-0002', retention: 'D10', itemNo: 2 });
    expect(await store.getItem(itemId)).toEqual(updated);
    expect((await store.verifyItem(itemId)).status).toBe('ok');
    expect(store.findByArchivalCode('J012-2015-D10-RSK-0002')).toBe(itemId);
    expect(store.findByArchivalCode('J012-2015-D30-RSK-0001')).toBeUndefined();
    expect(await readdir(store.itemDir(itemId))).not.toContain('item.json.new');

    const cleared = await store.updateMetadata(itemId, { archivalCode: null });
    expect(cleared.archivalCode).toBeUndefined();
    expect(cleared.fonds).toBeUndefined();
    await rejects(store.updateMetadata(itemId, { classification: null }), 'ITEM_METADATA_INVALID');
    await rejects(store.updateMetadata(itemId, { archivalCode: 'J012-2014-Y-BGS-42' }), 'ARCHIVAL_CODE_TAKEN');
    await rejects(store.updateMetadata(itemId, { posts: [''] }), 'ITEM_METADATA_INVALID');
    expect(await store.getItem(itemId)).toEqual(cleared);
    expect((await store.verifyItem(itemId)).status).toBe('ok');
  });

  it('finishes or undoes an update interrupted by a crash', async () => {
    const { itemId } = await store.putItem(await stageItem(staging, { meta: { title: 'A' } }));
    const dir = store.itemDir(itemId);
    const meta = (await store.getItem(itemId))!;
    // Crash after the commit point (both .new files written): rolled forward on the next read.
    const next = { ...meta, title: 'B' };
    await writeFile(join(dir, 'item.json.new'), JSON.stringify(next));
    const manifest = parseManifest(await readFile(join(dir, MANIFEST_NAME), 'utf8'))!;
    manifest.set('item.json', sha(JSON.stringify(next)));
    await writeFile(join(dir, `${MANIFEST_NAME}.new`), [...manifest].map(([p, h]) => `${h}  ${p}\n`).join(''));
    expect((await store.getItem(itemId))?.title).toBe('B');
    expect((await store.verifyItem(itemId)).status).toBe('ok');
    // Crash before it (only item.json.new, plus a temp file of an atomic write): rolled back.
    await writeFile(join(dir, 'item.json.new'), JSON.stringify({ ...meta, title: 'C' }));
    await writeFile(join(dir, '.0123456789ab.tmp'), 'half');
    expect((await store.getItem(itemId))?.title).toBe('B');
    expect(await readdir(dir)).not.toContain('item.json.new');
    expect((await store.verifyItem(itemId)).status).toBe('ok');
  });

  it('lists every item, and rebuilds its index when missing, corrupt, stale or marked dirty', async () => {
    const all: string[] = [];
    for await (const m of store.listItems()) all.push(m.itemId);
    expect(all.length).toBe(store.count);
    expect([...all].sort()).toEqual(all);

    const reopened = await ItemStore.open(dataDir);
    expect(reopened.rebuiltOnOpen).toBe(false);
    const index = join(dataDir, 'items', 'index.jsonl');
    const find = async (s: ItemStore) => [s.count, s.findByArchivalCode('J012-2014-Y-BGS-0042')];
    const expected = await find(store);
    for (const spoil of [() => rm(index), () => appendFile(index, '{"id": "x", trunc'), () => writeFile(index, ''), () => writeFile(join(dataDir, 'items', '.index-dirty'), '1')]) {
      await spoil();
      const s = await ItemStore.open(dataDir);
      expect(s.rebuiltOnOpen).toBe(true);
      expect(await find(s)).toEqual(expected);
      expect((await ItemStore.open(dataDir)).rebuiltOnOpen).toBe(false);
    }
  });

  it('ignores and clears what a crashed write left in items/.tmp', async () => {
    const tmp = join(dataDir, 'items', '.tmp');
    const left = await stageItem(tmp);
    const dead = join(tmp, `999999999-${left.meta.itemId}-abcd`);
    await rm(dead, { recursive: true, force: true });
    await mkdir(dead);
    await writeFile(join(dead, 'item.json'), JSON.stringify(left.meta));
    const s = await ItemStore.open(dataDir);
    expect(await readdir(tmp)).toEqual([]);
    expect(s.ids()).not.toContain(left.meta.itemId);
    expect(await s.getItem(left.meta.itemId)).toBeUndefined();
  });

  it('after kill -9 in the middle of storing, every item is whole and verifies', async () => {
    const dir = await tempDir('items-crash-');
    const stage = await tempDir('staging-crash-');
    try {
      for (const delay of [700, 1100]) {
        const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/item-put-loop.ts'), dir, stage], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        // Kill once it has stored a few items, wherever it is.
        await new Promise<void>((resolve, reject) => {
          const check = setInterval(() => {
            if (out.split('\n').length > 4) {
              clearInterval(check);
              setTimeout(() => {
                child.kill('SIGKILL');
                resolve();
              }, delay % 97);
            }
          }, 5);
          child.once('exit', (code) => {
            clearInterval(check);
            if (code !== null) reject(new Error(`put loop exited ${code}: ${err}`));
          });
        });
        await new Promise((r) => child.once('close', r));
        const confirmed = out.split('\n').filter(Boolean);
        const s = await ItemStore.open(dir);
        expect(await readdir(join(dir, 'items', '.tmp'))).toEqual([]);
        for (const id of confirmed) expect(s.ids()).toContain(id);
        for (const id of s.ids()) {
          const v = await s.verifyItem(id);
          expect(v.status, `${id}: ${JSON.stringify(v)}`).toBe('ok');
        }
      }
    } finally {
      await cleanup(dir);
      await cleanup(stage);
    }
  });
});
