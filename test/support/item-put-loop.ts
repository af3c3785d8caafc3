// Child process for the item store's crash test: stores items one after another until killed.
import { ItemStore } from '../../ingest/item-store.ts';
import { stageItem } from './staged-item.ts';

const [dataDir, stagingDir] = process.argv.slice(2);
const store = await ItemStore.open(dataDir);
for (let i = 0; ; i++) {
  const s = await stageItem(stagingDir, { pages: 3, originals: [{ name: `file-${i}.tif`, bytes: Buffer.concat([Buffer.from(`${process.pid}-${i}`), Buffer.alloc(256 * 1024, i % 251)]) }] });
  await store.putItem(s);
  if (i % 3 === 0) await store.updateMetadata(s.meta.itemId, { title: `题名 ${i}` });
  process.stdout.write(`${s.meta.itemId}\n`);
}
