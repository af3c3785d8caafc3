import { basename, sep } from 'node:path';
import { ADMIN_ROLES } from '../security/index.ts';
import { canSee, type Viewer, type ItemMetadata } from '../core/index.ts';
import { type AuthContext } from './authorize.ts';
import { itemPages, jobProgress, type Job, type JobItem, type JobProgress } from '../ingest/index.ts';

/**
 * What one person may learn of an ingest job: the jobs they submitted through the web
 * (uploads and re-OCR), plus the command-line and hot-folder batches nobody submitted through the
 * web in which they may see at least one item — and within any job only the items the access rule
 * lets them see; the rest is a count. No host paths (names relative to the batch root), no file
 * hashes, no submitter address, and another item named only to someone who may see it.
 */

export interface JobWho {
  username: string;
  viewer: Viewer;
}

/** Stored metadata of an archived item (undefined when not in the store), for the access rule. */
export type ItemLookup = (itemId: string) => Promise<ItemMetadata | undefined>;

export function jobWho(a: AuthContext): JobWho {
  // Administrators hold no item permission (roles.ts) and no ingest right: they see no item.
  const admin = a.roles.some((r) => ADMIN_ROLES.includes(r));
  return { username: a.user.username, viewer: admin ? { posts: [], clearance: '公开' } : { posts: [...a.user.posts], clearance: a.user.clearance } };
}

/** Submitted through the web by this user (an upload or a re-OCR). */
export function ownJob(job: Job, who: JobWho): boolean {
  return (job.via === 'upload' || job.via === 'reocr') && job.actor.name === who.username;
}

/** Host paths out of a message: the batch root stripped, any other absolute path cut to its last name. */
export function relativise(text: string, root?: string): string {
  let t = text;
  if (root && root !== sep) t = t.split(root.endsWith(sep) ? root : root + sep).join('');
  // Only a path that starts a word ("/tmp/x/y.jpg", "：/srv/in/a.tif"), not the tail of a relative one.
  return t.replace(/(?<![^\s：:，,、；;（）()“”"'<>])(?:\/[^/\s：:，,、；;（）()“”"'<>]+)+\/([^/\s：:，,、；;（）()“”"'<>]*)/g, '$1');
}

export interface JobItemView {
  n: number;
  /** 档号 and 题名 when known, else the file or folder name (relative to the batch). */
  name: string;
  label: string;
  archivalCode?: string;
  title?: string;
  /** Set once the item is in the archive (or for a re-OCR, the item read again). */
  itemId?: string;
  replaces?: string;
  csvLine?: number;
  stage: JobItem['stage'];
  outcome: JobItem['outcome'];
  pagesDone: number;
  pageCount: number;
  error?: { code: string; message: string };
}

export interface JobView {
  id: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  via: Job['via'];
  /** The batch's folder name, when it had one. */
  batch?: string;
  /** The submitter's name on their own jobs; 热文件夹 / 命令行 for batches from those doors. */
  actor: string;
  state: Job['state'];
  waitingReason?: string;
  /** Re-OCR: the item read again. */
  reocrOf?: { itemId: string; archivalCode?: string; title?: string };
  items: JobItemView[];
  /** Items of this job the viewer may not see ("另有 3 件无权查看"). */
  hiddenItems: number;
  problems: Array<{ code: string; message: string; path?: string }>;
  progress: JobProgress & { pagesFailed: number; hiddenItems: number };
}

const FAILED = new Set(['failed', 'refused', 'quarantined']);

/** Effective access fields of a job item: the stored item once archived, else what intake said. */
async function accessOf(job: Job, item: JobItem, lookup: ItemLookup): Promise<{ meta?: ItemMetadata; posts: string[]; classification: ItemMetadata['classification'] }> {
  const inStore = item.replaces || item.stage === 'stored' || item.stage === 'indexed' || item.stage === 'done';
  const meta = inStore ? await lookup(item.itemId) : undefined;
  if (meta) return { meta, posts: meta.posts, classification: meta.classification };
  const md = item.metadata;
  return { posts: md.posts?.length ? md.posts : job.options.posts, classification: md.classification ?? job.options.classification };
}

/** Per-connection memo of item visibility, keyed by what can change it (stage and outcome). */
export type VisibilityCache = Map<string, boolean>;

export async function itemVisible(job: Job, item: JobItem, who: JobWho, lookup: ItemLookup, cache?: VisibilityCache): Promise<{ visible: boolean; meta?: ItemMetadata }> {
  const key = `${job.id}:${item.n}:${item.stage}:${item.outcome}`;
  const hit = cache?.get(key);
  if (hit !== undefined && !hit) return { visible: false };
  const a = await accessOf(job, item, lookup);
  const visible = canSee(who.viewer, a);
  cache?.set(key, visible);
  return { visible, meta: a.meta };
}

/** May this person see that job at all? Their own, or a batch from a non-web door with an item of theirs. */
export async function jobVisible(job: Job, who: JobWho, lookup: ItemLookup, cache?: VisibilityCache): Promise<boolean> {
  if (ownJob(job, who)) return true;
  if (job.via !== 'cli' && job.via !== 'inbox') return false;
  for (const item of job.items) if ((await itemVisible(job, item, who, lookup, cache)).visible) return true;
  return false;
}

async function otherItemNote(id: string | undefined, who: JobWho, lookup: ItemLookup): Promise<string> {
  if (!id) return '';
  const m = await lookup(id);
  if (!m || !canSee(who.viewer, m)) return '';
  return `（条目 ${m.archivalCode ?? m.itemId}${m.title ? `《${m.title}》` : ''}）`;
}

export async function viewItem(job: Job, item: JobItem, who: JobWho, lookup: ItemLookup, meta?: ItemMetadata): Promise<JobItemView> {
  const md = meta ?? item.metadata;
  const archivalCode = md.archivalCode;
  const title = md.title;
  const label = relativise(item.label, job.root);
  let error: JobItemView['error'];
  if (item.error) {
    let message = relativise(item.error.message, job.root);
    if (item.error.code === 'DUPLICATE') message = `该文件已归档${await otherItemNote(item.duplicateOf, who, lookup)}，未重复归档。`;
    if (item.error.code === 'ARCHIVAL_CODE_TAKEN') message = `档号 ${item.metadata.archivalCode ?? ''} 已被占用${await otherItemNote(item.codeHolder, who, lookup)}，档号必须唯一。`;
    if (item.error.code === 'OCR_INPUT_UNSUPPORTED' && /\.(jpe?g|png|tiff?|pdf)：/i.test(message)) message = message.replace(/^不支持的文件格式（[^）]*）/, '文件已损坏');
    error = { code: item.error.code, message };
  }
  return {
    n: item.n,
    name: [archivalCode, title].filter(Boolean).join(' ') || label,
    label,
    archivalCode,
    title,
    itemId: item.outcome === 'archived' || item.replaces ? item.itemId : undefined,
    replaces: item.replaces,
    csvLine: item.csvLine,
    stage: item.stage,
    outcome: item.outcome,
    pagesDone: item.pagesDone,
    pageCount: itemPages(item),
    error,
  };
}

/** Progress over the visible items only: a hidden item's pages are not counted (nor its existence, beyond the count). */
export function visibleProgress(job: Job, visible: JobItem[]): JobView['progress'] {
  const p = jobProgress({ ...job, items: visible });
  // Why a job waits names services ("unix:/run/clamav/clamd.ctl …"): no host path in it either.
  if (p.waitingReason) p.waitingReason = relativise(p.waitingReason, job.root);
  const pagesFailed = visible.filter((i) => FAILED.has(i.outcome)).reduce((s, i) => s + itemPages(i), 0);
  return { ...p, pagesFailed, hiddenItems: job.items.length - visible.length };
}

export async function viewJob(job: Job, who: JobWho, lookup: ItemLookup, cache?: VisibilityCache): Promise<JobView> {
  const own = ownJob(job, who);
  const visible: Array<{ item: JobItem; meta?: ItemMetadata }> = [];
  for (const item of job.items) {
    const v = await itemVisible(job, item, who, lookup, cache);
    if (v.visible) visible.push({ item, meta: v.meta });
  }
  const items = await Promise.all(visible.map((v) => viewItem(job, v.item, who, lookup, v.meta)));
  const reocr = job.via === 'reocr' ? items.find((i) => i.replaces) : undefined;
  return {
    id: job.id,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    via: job.via,
    batch: job.batch,
    actor: own ? job.actor.name : job.via === 'inbox' ? '热文件夹' : '命令行',
    state: job.state,
    waitingReason: job.waitingReason ? relativise(job.waitingReason, job.root) : undefined,
    reocrOf: reocr ? { itemId: reocr.replaces!, archivalCode: reocr.archivalCode, title: reocr.title } : undefined,
    items,
    hiddenItems: job.items.length - visible.length,
    // Files that did not become items carry no access fields: only the submitter hears of them.
    problems: own ? job.problems.map((p) => ({ code: p.code, message: relativise(p.message, job.root), path: p.path ? relativise(p.path, job.root) || basename(p.path) : undefined })) : [],
    progress: visibleProgress(
      job,
      visible.map((v) => v.item),
    ),
  };
}
