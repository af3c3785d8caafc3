import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplianceError } from '../../core/errors.ts';
import { FORMAT_VERSIONS } from '../../core/format-version.ts';
import { ItemStore, JobStore } from '../../ingest/index.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { stageItem } from '../support/staged-item.ts';

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof ApplianceError ? e.code : String(e);
  }
}

// docs/FORMATS.md: every format names its version; an absent field is version 1; a newer version
// is refused (never read as if it were the old one), and nothing is changed on disk.
describe('on-disk format versions', () => {
  let dir: string;
  let store: ItemStore;
  beforeAll(async () => {
    dir = await tempDir('archive-formats-');
    store = await ItemStore.open(join(dir, 'data'));
  });
  afterAll(() => cleanup(dir));

  it('item.json carries its version, and a newer one is refused untouched', async () => {
    const meta = await store.putItem(await stageItem(dir));
    const file = join(store.itemDir(meta.itemId), 'item.json');
    const onDisk = JSON.parse(await readFile(file, 'utf8'));
    expect(onDisk.formatVersion).toBe(FORMAT_VERSIONS['item.json']);
    expect((await store.getItem(meta.itemId))?.itemId).toBe(meta.itemId);

    const { formatVersion: _v, ...old } = onDisk; // as written before versions existed
    await writeFile(file, JSON.stringify(old));
    expect((await store.getItem(meta.itemId))?.itemId).toBe(meta.itemId);

    const newer = JSON.stringify({ ...onDisk, formatVersion: FORMAT_VERSIONS['item.json'] + 1 });
    await writeFile(file, newer);
    expect(await code(store.getItem(meta.itemId))).toBe('FORMAT_TOO_NEW');
    expect(await readFile(file, 'utf8')).toBe(newer);
  });

  it('text.json: the array is version 1; an object of a later version is refused', async () => {
    const meta = await store.putItem(await stageItem(dir));
    expect((await store.readText(meta.itemId)).length).toBe(2);
    await writeFile(join(store.itemDir(meta.itemId), 'text.json'), JSON.stringify({ formatVersion: 2, pages: [] }));
    expect(await code(store.readText(meta.itemId))).toBe('FORMAT_TOO_NEW');
  });

  it('job.json carries its version; a newer journal is refused, not resumed as an old one', async () => {
    const jobs = new JobStore(join(dir, 'data'));
    const id = 'test-00ab';
    const staged = await jobs.stage(id);
    const now = new Date().toISOString();
    await staged.commit({
      id,
      createdAt: now,
      updatedAt: now,
      via: 'cli',
      actor: { name: 'console', role: '-', source: 'console' },
      options: { posts: ['BGS'], classification: '内部' },
      state: 'queued',
      items: [],
      problems: [],
    } as never);
    const file = join(jobs.jobDir(id), 'job.json');
    expect(JSON.parse(await readFile(file, 'utf8')).formatVersion).toBe(FORMAT_VERSIONS['job.json']);
    expect((await jobs.load(id)).id).toBe(id);
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), formatVersion: 7 }));
    expect(await code(jobs.load(id))).toBe('FORMAT_TOO_NEW');
  });
});
