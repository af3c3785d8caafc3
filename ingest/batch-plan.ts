import { lstat, readdir, realpath } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import iconv from 'iconv-lite';

/** Single-page images (a folder of them is one item) and documents (each file is one item). */
export const PAGE_IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png']);
export const DOCUMENT_EXT = new Set(['.tif', '.tiff', '.pdf']);
const ACCEPTED_EXT = new Set([...PAGE_IMAGE_EXT, ...DOCUMENT_EXT]);

/** One item (件) to be made from one file or one folder of pages, files in page order. */
export interface PlannedItem {
  /** What the archivist calls it: the file or folder name as given. */
  label: string;
  /** Absolute paths, in page order. */
  files: string[];
  /** The batch root the files were found under (resolved once): names are shown relative to it. */
  root?: string;
}

export interface PlanProblem {
  /** Relative to the batch root (what the archivist named), never a host path of the appliance. */
  path: string;
  code: string;
  message: string;
}

/** A link or a special file met at a door: refused by name, relative to the batch root. */
export function refusedProblem(kind: 'link' | 'special', shown: string): PlanProblem {
  return kind === 'link'
    ? { path: shown, code: 'LINK_REFUSED', message: `已拒绝符号链接：${shown}（导入不跟随链接，请复制文件本身后再导入）` }
    : { path: shown, code: 'SPECIAL_FILE_REFUSED', message: `已拒绝：${shown} 不是普通文件（设备、管道或套接字）` };
}

/** Codes of refusals that the security officer must see in the audit trail. */
export const REFUSED_FILE_CODES = new Set(['LINK_REFUSED', 'SPECIAL_FILE_REFUSED']);

/** A path shown to people: relative to the batch root, never a host path. */
export function shownPath(root: string, path: string): string {
  const rel = relative(root, path);
  return rel && !rel.startsWith('..') ? rel.split('\\').join('/') : basename(path);
}

const collator = new Intl.Collator('zh-CN', { numeric: true, sensitivity: 'base' });

/** Natural page order: page-2 before page-10, as a person would number them. */
export function naturalSort(names: string[]): string[] {
  return [...names].sort((a, b) => collator.compare(a, b));
}

function accepted(name: string): boolean {
  return ACCEPTED_EXT.has(extname(name).toLowerCase());
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A file name as text, or undefined when its bytes are not UTF-8 (e.g. GBK from an old scanner PC). */
function decodeName(raw: Buffer): string | undefined {
  try {
    return utf8.decode(raw);
  } catch {
    return undefined;
  }
}

/**
 * Pages of a folder that holds only JPEG/PNG page images, in natural order; undefined for any
 * other folder. Decided by names alone: nothing reads a file before the virus gate has.
 * (Single-page TIFFs that form one item are grouped by naming their folder in the CSV.)
 */
export async function folderPages(dir: string): Promise<{ pages: string[]; refused: Array<{ kind: 'link' | 'special'; path: string }> } | undefined> {
  const names: string[] = [];
  const refused: Array<{ kind: 'link' | 'special'; path: string }> = [];
  for (const e of await readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
    const name = decodeName(e.name);
    if (name === undefined) return undefined; // reported name by name when the folder is walked
    if (name.startsWith('.') || /\.csv$/i.test(name)) continue;
    // A link or a device among the pages: the folder is still one item, and that item is refused
    // (never archived without the page, never split into single pages).
    if (e.isSymbolicLink()) refused.push({ kind: 'link', path: join(dir, name) });
    else if (!e.isFile() && !e.isDirectory()) refused.push({ kind: 'special', path: join(dir, name) });
    else if (!e.isFile() || !PAGE_IMAGE_EXT.has(extname(name).toLowerCase())) return undefined;
    else names.push(name);
  }
  return names.length || refused.length ? { pages: naturalSort(names).map((n) => join(dir, n)), refused } : undefined;
}

/**
 * Turn what the archivist named into items: a file is one item; a folder of page images is one
 * item; any other folder is a batch whose entries are items in turn. Nothing is dropped without a
 * word: files that cannot be scans are reported.
 */
export async function planItems(paths: string[]): Promise<{ items: PlannedItem[]; problems: PlanProblem[] }> {
  const items: PlannedItem[] = [];
  const problems: PlanProblem[] = [];
  const visit = async (p: string, root: string, depth: number): Promise<void> => {
    let st;
    try {
      // lstat: a link is never followed, whatever it points at (another item's original, /etc).
      st = await lstat(p);
    } catch {
      problems.push({ path: shownPath(root, p), code: 'PATH_NOT_FOUND', message: `找不到文件或目录：${shownPath(root, p)}` });
      return;
    }
    if (st.isSymbolicLink()) {
      problems.push(refusedProblem('link', shownPath(root, p)));
      return;
    }
    if (st.isFile()) {
      if (!accepted(p)) problems.push({ path: shownPath(root, p), code: 'UNSUPPORTED_FILE', message: `不支持的文件类型：${basename(p)}（可接收 TIFF、JPEG、PNG、PDF）` });
      else if (st.size === 0) problems.push({ path: shownPath(root, p), code: 'EMPTY_FILE', message: `文件为空（0 字节）：${basename(p)}` });
      else items.push({ label: basename(p), files: [p], root });
      return;
    }
    if (!st.isDirectory()) {
      problems.push(refusedProblem('special', shownPath(root, p)));
      return;
    }
    const folder = await folderPages(p);
    if (folder) {
      if (folder.refused.length) problems.push(...folder.refused.map((r) => refusedProblem(r.kind, shownPath(root, r.path))));
      else items.push({ label: basename(p), files: folder.pages, root });
      return;
    }
    if (depth > 8) {
      problems.push({ path: shownPath(root, p), code: 'TOO_DEEP', message: `目录层级过深：${shownPath(root, p)}` });
      return;
    }
    const names: string[] = [];
    for (const raw of await readdir(p, { encoding: 'buffer' })) {
      const name = decodeName(raw);
      if (name === undefined) {
        problems.push({
          path: shownPath(root, join(p, raw.toString('latin1'))),
          code: 'NAME_NOT_UTF8',
          message: `文件名不是 UTF-8 编码（按 GB18030 读作“${iconv.decode(raw, 'gb18030')}”），无法可靠保存，请重命名后再导入：${shownPath(root, p)}`,
        });
      } else if (!name.startsWith('.') && !/\.csv$/i.test(name)) names.push(name);
    }
    for (const name of naturalSort(names)) await visit(join(p, name), root, depth + 1);
  };
  for (const given of paths) {
    // The folder the operator named is taken as it is (it may sit under a mount point reached by a
    // link); the entry itself and everything below it must not be a link.
    const abs = resolve(given);
    const root = await realpath(dirname(abs)).catch(() => undefined);
    if (root === undefined) {
      problems.push({ path: given, code: 'PATH_NOT_FOUND', message: `找不到文件或目录：${given}` });
      continue;
    }
    await visit(abs === dirname(abs) ? root : join(root, basename(abs)), root, 0);
  }
  return { items, problems };
}
