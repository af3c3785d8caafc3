import type Router from '@koa/router';
import busboy from 'busboy';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CLASSIFICATIONS, type Classification, ApplianceError, canSee } from '../core/index.ts';
import { csvTemplate, CSV_TEMPLATE_NAME, jobProgress, MAX_FILE_BYTES, type IngestService, type Job, type JobItem, safeFileName } from '../ingest/index.ts';
import { currentUser, currentViewer, requirePermission } from './authorize.ts';
import { type Auth } from './auth.ts';
import type Koa from 'koa';
import { itemVisible, jobVisible, jobWho, viewItem, viewJob, visibleProgress, type ItemLookup, type JobView, type VisibilityCache } from './job-view.ts';

const MAX_FILES = 2_000;
const MAX_UPLOAD_BYTES = 4 * 1024 ** 3;

/**
 * The relative path a browser sends for a file of a dropped folder ("S0003/page-001.jpg"), made
 * safe component by component. Traversal is refused (the whole upload with it), not repaired.
 */
function safeRelative(name: string): string {
  const parts = name.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.length > 4) throw new ApplianceError('UNSAFE_FILE_NAME', `文件路径无效：${name}`, `bad upload path ${name}`);
  if (parts.includes('..')) safeFileName(name); // throws UNSAFE_FILE_NAME with the name
  return parts.map(safeFileName).join('/');
}

/** Receive a multipart upload into dir; fields come back as strings. Limits end the upload with 413. */
async function receive(ctx: Koa.Context, dir: string): Promise<{ fields: Record<string, string>; files: string[] }> {
  const fields: Record<string, string> = {};
  const files: string[] = [];
  const writes: Promise<void>[] = [];
  let total = 0;
  let failure: ApplianceError | undefined;
  const bb = busboy({ headers: ctx.req.headers, limits: { fileSize: MAX_FILE_BYTES, files: MAX_FILES, fields: 20, fieldSize: 10_000 }, defParamCharset: 'utf8', preservePath: true });
  bb.on('field', (name, value) => {
    fields[name] = value;
  });
  bb.on('file', (_field, stream, info) => {
    let rel: string;
    try {
      rel = safeRelative(info.filename ?? '');
    } catch (e) {
      failure ??= e as ApplianceError;
      stream.resume();
      return;
    }
    const dest = join(dir, rel);
    files.push(rel);
    // Counted inside the pipeline: a 'data' listener here would start the stream flowing before
    // the file is open and drop its first bytes.
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        total += chunk.length;
        if (total > MAX_UPLOAD_BYTES) failure ??= new ApplianceError('UPLOAD_TOO_LARGE', `上传总量超过上限（${MAX_UPLOAD_BYTES / 1024 ** 3} GB），请分批上传。`, 'upload too large', { status: 413 });
        done(null, chunk);
      },
    });
    stream.on('limit', () => {
      failure ??= new ApplianceError('FILE_TOO_LARGE', `文件超过大小上限（${MAX_FILE_BYTES / 1024 ** 2} MB）：${rel}`, `file too large: ${rel}`, { status: 413 });
    });
    writes.push(
      mkdir(join(dest, '..'), { recursive: true, mode: 0o700 })
        .then(() => pipeline(stream, counter, createWriteStream(dest, { flags: 'wx', mode: 0o600 })))
        .catch((e) => {
          failure ??= new ApplianceError('UPLOAD_FAILED', `文件接收失败：${rel}（${(e as Error).message}）`, `upload write failed: ${(e as Error).message}`, { status: 400 });
          stream.resume();
        }),
    );
  });
  bb.on('filesLimit', () => {
    failure ??= new ApplianceError('TOO_MANY_FILES', `一次最多上传 ${MAX_FILES} 个文件，请分批上传。`, 'too many files', { status: 413 });
  });
  try {
    await pipeline(ctx.req, bb);
  } catch (e) {
    failure ??= new ApplianceError('UPLOAD_FAILED', `上传中断：${(e as Error).message}`, `upload failed: ${(e as Error).message}`, { status: 400 });
  }
  await Promise.all(writes);
  if (failure) throw failure;
  return { fields, files };
}

/** Upload, job list and live progress (server-sent events) for archivists. */
/** How often an open job event stream checks that its session still holds. */
export const SSE_SESSION_CHECK_MS = 2_000;

export function ingestRoutes(router: Router, deps: { auth: Auth; ingest: IngestService; uploadDir: string; sessionCheckMs?: number }): void {
  router.post('/api/ingest/upload', requirePermission('item:ingest'), async (ctx) => {
    if (!ctx.is('multipart/form-data')) throw new ApplianceError('BAD_UPLOAD', '请以 multipart/form-data 上传文件。', 'expected multipart/form-data', { status: 415 });
    const me = currentUser(ctx);
    // A low disk refuses the upload before a byte of it is written (the room is the audit trail's).
    await deps.ingest.assertRoom();
    const dir = join(deps.uploadDir, `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      const { fields, files } = await receive(ctx, dir);
      if (files.length === 0) throw new ApplianceError('NOTHING_TO_INGEST', '没有收到任何文件。', 'no files', { status: 400 });
      const classification = (fields.classification || '内部') as Classification;
      if (!(CLASSIFICATIONS as readonly string[]).includes(classification)) throw new ApplianceError('BAD_PARAM', `密级无效：${classification}`, 'bad classification', { status: 400 });
      const csv = files.filter((f) => !f.includes('/') && /\.csv$/i.test(f));
      if (csv.length > 1) throw new ApplianceError('BAD_UPLOAD', '一次只能附带一个 CSV 清单。', 'more than one CSV', { status: 400 });
      const entries = (await readdir(dir)).filter((n) => !/\.csv$/i.test(n)).map((n) => join(dir, n));
      // The folder the archivist chose, whose name the browser sends apart from the files' paths.
      // eslint-disable-next-line no-control-regex
      const batch =
        (fields.batch ?? '')
          .replace(/[\u0000-\u001f\u007f/\\]/g, '')
          .trim()
          .slice(0, 200) || undefined;
      const job = await deps.ingest.submit(entries, {
        batch,
        manifest: csv[0] ? join(dir, csv[0]) : undefined,
        posts: fields.posts
          ? fields.posts
              .split(/[,，;；、]/)
              .map((s) => s.trim())
              .filter(Boolean)
          : undefined,
        classification,
        actor: { name: me.user.username, role: me.roles.join('+'), source: ctx.ip },
        via: 'upload',
        filer: { username: me.user.username, posts: me.user.posts, filingPosts: me.user.filingPosts, clearance: me.user.clearance },
      });
      ctx.status = 202;
      // The submitter's own job, as job-view shows it: names relative to the upload, no server paths.
      const view = await viewJob(job, jobWho(me), (id) => deps.ingest.store.getItem(id).catch(() => undefined));
      ctx.body = { job: job.id, batch: job.batch, items: view.items.map((i) => ({ n: i.n, label: i.name })), hiddenItems: view.hiddenItems, problems: view.problems, progress: view.progress };
    } finally {
      // The job holds its own copies now (or nothing was accepted): the upload folder can go.
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Re-OCR: the item's own originals are read again and its pages, text and PDF replaced (same id,
  // same catalogue data); it runs as an ordinary job, with progress on the same event stream.
  router.post('/api/items/:id/reocr', requirePermission('item:edit'), async (ctx) => {
    const id = String(ctx.params.id ?? '');
    const meta = await deps.ingest.store.getItem(id).catch(() => undefined);
    if (!meta || !canSee(currentViewer(ctx), meta)) {
      await deps.auth.record(ctx, { action: 'item.reocr', target: id.slice(0, 80), outcome: 'denied' });
      throw new ApplianceError('ITEM_NOT_FOUND', '条目不存在或您无权查阅。', 'no such item (or not visible)', { status: 404 });
    }
    const me = currentUser(ctx);
    const job = await deps.ingest.reocr(id, { name: me.user.username, role: me.roles.join('+'), source: ctx.ip });
    await deps.auth.record(ctx, { action: 'item.reocr.request', target: id, outcome: 'success', details: { job: job.id } });
    ctx.status = 202;
    ctx.body = { job: job.id, progress: jobProgress(job) };
  });

  // The CSV manifest template (headers and one example row), for Excel and WPS: see ingest/csv-template.ts.
  router.get('/api/ingest/csv-template', requirePermission('item:ingest'), async (ctx) => {
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="csv-template.csv"; filename*=UTF-8''${encodeURIComponent(CSV_TEMPLATE_NAME)}`);
    ctx.body = csvTemplate();
  });
  // Jobs as each person may see them (web/job-view.ts); every read is on the audit trail.
  const lookup: ItemLookup = (id) => deps.ingest.store.getItem(id).catch(() => undefined);

  router.get('/api/jobs', requirePermission('item:ingest'), async (ctx) => {
    const who = jobWho(currentUser(ctx));
    const out: JobView[] = [];
    for (const j of (await deps.ingest.jobs.list()).reverse()) {
      if (out.length >= 100) break;
      if (await jobVisible(j, who, lookup)) out.push(await viewJob(j, who, lookup));
    }
    await deps.auth.record(ctx, { action: 'ingest.job.list', target: '-', outcome: 'success', details: { jobs: out.length } });
    ctx.body = out.map((v) => ({
      id: v.id,
      batch: v.batch,
      createdAt: v.createdAt,
      startedAt: v.startedAt,
      finishedAt: v.finishedAt,
      via: v.via,
      actor: v.actor,
      reocrOf: v.reocrOf,
      ...v.progress,
      names: v.items.slice(0, 5).map((i) => i.name),
      failures: v.items.filter((i) => i.error).map((i) => ({ name: i.name, label: i.label, outcome: i.outcome, ...i.error })),
      problems: v.problems,
    }));
  });

  router.get('/api/jobs/events', requirePermission('item:ingest'), async (ctx) => {
    const me = currentUser(ctx);
    const who = jobWho(me);
    const cache: VisibilityCache = new Map();
    const stream = new PassThrough();
    let open = true;
    // The session is checked on every event and on a short timer: logout, disabling, an idle or
    // expired session and any change of roles, posts or clearance end the stream.
    const live = async (): Promise<boolean> => {
      const s = deps.auth.sessions.alive(me.sessionKey);
      if (!s) return false;
      const u = await deps.auth.identity.findUserById(s.userId);
      return Boolean(u && !u.disabled && u.stamp === s.stamp);
    };
    let chain = Promise.resolve();
    const onJournal = (job: Job, item: JobItem | undefined) => {
      // Filtered now (the runner goes on mutating the journal), sent in order.
      const snapshot: Job = structuredClone(job);
      const n = item?.n;
      chain = chain
        .then(async () => {
          if (!open) return;
          if (!(await live())) return close('session');
          if (!(await jobVisible(snapshot, who, lookup, cache))) return;
          const it = n === undefined ? undefined : snapshot.items.find((i) => i.n === n);
          const itemSeen = it ? await itemVisible(snapshot, it, who, lookup, cache) : undefined;
          if (it && !itemSeen?.visible) return;
          const visible: JobItem[] = [];
          for (const i of snapshot.items) if ((await itemVisible(snapshot, i, who, lookup, cache)).visible) visible.push(i);
          const event = { ...visibleProgress(snapshot, visible), via: snapshot.via, item: it ? await viewItem(snapshot, it, who, lookup, itemSeen?.meta) : undefined };
          if (open) stream.write(`event: progress\ndata: ${JSON.stringify(event)}\n\n`);
        })
        .catch(() => close('error'));
    };
    const ping = setInterval(() => {
      chain = chain
        .then(async () => {
          if (!open) return;
          if (!(await live())) return close('session');
          stream.write(': keep-alive\n\n');
        })
        .catch(() => close('error'));
    }, deps.sessionCheckMs ?? SSE_SESSION_CHECK_MS);
    const close = (why: 'client' | 'session' | 'error') => {
      if (!open) return;
      open = false;
      clearInterval(ping);
      deps.ingest.runner.off('journal', onJournal);
      if (why === 'session') stream.write(`event: ended\ndata: ${JSON.stringify({ code: 'SESSION_ENDED', message: '会话已失效，请重新登录。' })}\n\n`);
      stream.end();
    };
    await deps.auth.record(ctx, { action: 'ingest.job.events', target: '-', outcome: 'success' });
    deps.ingest.runner.on('journal', onJournal);
    ctx.req.on('close', () => close('client'));
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.type = 'text/event-stream';
    ctx.status = 200;
    ctx.body = stream;
    stream.write(': connected\n\n');
  });

  router.get('/api/jobs/:id', requirePermission('item:ingest'), async (ctx) => {
    const id = String(ctx.params.id ?? '');
    const who = jobWho(currentUser(ctx));
    const job = await deps.ingest.jobs.load(id).catch(() => undefined);
    // One answer for "no such job" and "not yours": a refusal must not tell that a job exists.
    if (!job || !(await jobVisible(job, who, lookup))) {
      await deps.auth.record(ctx, { action: 'ingest.job.view', target: id.slice(0, 80), outcome: 'denied' });
      throw new ApplianceError('JOB_NOT_FOUND', '任务不存在或您无权查看。', 'no such job (or not visible)', { status: 404 });
    }
    const view = await viewJob(job, who, lookup);
    await deps.auth.record(ctx, { action: 'ingest.job.view', target: job.id, outcome: 'success', details: { items: view.items.length, hidden: view.hiddenItems } });
    ctx.body = view;
  });
}
