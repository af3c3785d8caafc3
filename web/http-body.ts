import type Koa from 'koa';
import type { z } from 'zod';
import { ApplianceError } from '../core/index.ts';

/**
 * A small JSON body reader for the auth and admin routes (koa parses no bodies). JSON only: a
 * form post from another site cannot send it without a CORS preflight, which we never answer.
 */
export async function readJson<S extends z.ZodType>(ctx: Koa.Context, schema: S, limit = 16 * 1024): Promise<z.infer<S>> {
  if (!ctx.is('application/json')) throw new ApplianceError('BODY_NOT_JSON', '请求须为 JSON（Content-Type: application/json）。', 'request body must be JSON', { status: 415 });
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new ApplianceError('BODY_TOO_LARGE', '请求内容过大。', 'request body too large', { status: 413 });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req) {
    size += (c as Buffer).length;
    if (size > limit) throw new ApplianceError('BODY_TOO_LARGE', '请求内容过大。', 'request body too large', { status: 413 });
    chunks.push(c as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApplianceError('BODY_INVALID', '请求内容不是有效的 JSON。', 'invalid JSON body');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    throw new ApplianceError('BODY_INVALID', `请求内容有误：${problems.join('；')}`, `invalid body: ${problems.join('; ')}`, { details: { problems } });
  }
  return parsed.data;
}
