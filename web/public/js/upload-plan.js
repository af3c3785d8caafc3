// Which files of a selection become which items, and under what names they are sent.

const DOCUMENT = /\.(pdf|tiff?)$/i;

/**
 * list: [{file, path}] with paths relative to what was chosen ("S0003/page-001.jpg").
 * A folder chosen or dropped whole is either one item (only page images inside) or a folder of
 * items (sub-folders or documents inside): in the second case its own name is dropped, so each
 * child becomes one item, and its name is kept as the batch's name. A CSV at the top is taken as
 * the manifest; hidden files are left out.
 */
export function planSelection(list) {
  const roots = new Set(list.map((f) => f.path.split('/')[0]));
  let files = list;
  let batch;
  if (roots.size === 1 && list.every((f) => f.path.includes('/'))) {
    const inner = list.map((f) => ({ ...f, path: f.path.split('/').slice(1).join('/') }));
    if (inner.some((f) => f.path.includes('/') || DOCUMENT.test(f.path) || /\.csv$/i.test(f.path))) {
      files = inner;
      batch = [...roots][0];
    }
  }
  const csv = files.filter((f) => !f.path.includes('/') && /\.csv$/i.test(f.path));
  files = files.filter((f) => !csv.includes(f) && !f.path.split('/').some((p) => p.startsWith('.')));
  return { files, csv: csv[0], items: new Set(files.map((f) => f.path.split('/')[0])).size, batch };
}
