import type Router from '@koa/router';
import busboy from 'busboy';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CLASSIFICATIONS, type Classification } from '../appliance/config.ts';
import { ApplianceError } from '../appliance/errors.ts';
import { jobProgress, MAX_FILE_BYTES, type IngestService, type JobProgress } from '../ingest/index.ts';
import { safeFileName } from '../ingest/safe-name.ts';
import { canSee, currentUser, currentViewer, requirePermission, type Auth } from '../security/index.ts';
import type Koa from 'koa';

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
      mkdir(join(dest, '..'), { recursive: true, mode: 0o700 }).then(() => pipeline(stream, counter, createWriteStream(dest, { flags: 'wx', mode: 0o600 }))).catch((e) => {
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
export function ingestRoutes(router: Router, deps: { auth: Auth; ingest: IngestService; uploadDir: string }): void {
  router.post('/api/ingest/upload', requirePermission('item:ingest'), async (ctx) => {
    if (!ctx.is('multipart/form-data')) throw new ApplianceError('BAD_UPLOAD', '请以 multipart/form-data 上传文件。', 'expected multipart/form-data', { status: 415 });
    const me = currentUser(ctx);
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
      const batch = (fields.batch ?? '').replace(/[\u0000-\u001f\u007f/\\]/g, '').trim().slice(0, 200) || undefined;
      const job = await deps.ingest.submit(entries, {
        batch,
        manifest: csv[0] ? join(dir, csv[0]) : undefined,
        posts: fields.posts ? fields.posts.split(/[,，;；、]/).map((s) => s.trim()).filter(Boolean) : undefined,
        classification,
        actor: { name: me.user.username, role: me.roles.join('+'), source: ctx.ip },
        via: 'upload',
      });
      ctx.status = 202;
      ctx.body = { job: job.id, batch: job.batch, items: job.items.map((i) => ({ n: i.n, label: i.label })), problems: job.problems, progress: jobProgress(job) };
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

  router.get('/api/jobs', requirePermission('item:ingest'), async (ctx) => {
    const jobs = (await deps.ingest.jobs.list()).slice(-100).reverse();
    ctx.body = jobs.map((j) => ({ id: j.id, batch: j.batch, createdAt: j.createdAt, startedAt: j.startedAt, finishedAt: j.finishedAt, via: j.via, actor: j.actor.name, ...jobProgress(j), failures: j.items.filter((i) => i.error).map((i) => ({ label: i.label, outcome: i.outcome, ...i.error })), problems: j.problems }));
  });

  router.get('/api/jobs/events', requirePermission('item:ingest'), async (ctx) => {
    const stream = new PassThrough();
    const send = (p: JobProgress) => stream.write(`event: progress\ndata: ${JSON.stringify(p)}\n\n`);
    deps.ingest.runner.on('progress', send);
    const ping = setInterval(() => stream.write(': keep-alive\n\n'), 15_000);
    const close = () => {
      clearInterval(ping);
      deps.ingest.runner.off('progress', send);
      stream.end();
    };
    ctx.req.on('close', close);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.type = 'text/event-stream';
    ctx.status = 200;
    ctx.body = stream;
    stream.write(': connected\n\n');
  });

  router.get('/api/jobs/:id', requirePermission('item:ingest'), async (ctx) => {
    const job = await deps.ingest.jobs.load(String(ctx.params.id));
    ctx.body = { ...job, progress: jobProgress(job) };
  });
}
