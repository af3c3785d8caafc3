import type Router from '@koa/router';
import type Koa from 'koa';
import QRCode from 'qrcode';
import { z } from 'zod';
import { ApplianceError, isApplianceError } from '../core/index.ts';
import { eraseVerificationKey, parseVerificationKeys, pendingVerificationKey, verifyAudit } from '../security/index.ts';
import { readJson } from './http-body.ts';
import { requirePermission } from './authorize.ts';
import { type Auth } from './auth.ts';

/**
 * 安全审计员 and the audit seals: take the verification key away once (text and QR code, then a
 * confirmation that erases it from the machine) and prove the seals with the key pasted back.
 * Only the auditor holds audit:key and audit:verify; each step is on record.
 */
const takenBody = z.object({ keyId: z.string().regex(/^[0-9a-f]{16}$/) }).strict();
const verifyBody = z.object({ key: z.string().min(1).max(8000) }).strict();

function noneWaiting(): ApplianceError {
  return new ApplianceError('AUDIT_VKEY_NONE', '没有待取走的验证密钥（已被取走并删除，或本机尚未生成）。', 'no verification key waiting', { status: 404 });
}

export function auditSealRoutes(router: Router, deps: { auth: Auth }): void {
  const { auth } = deps;
  const file = () => auth.audit.verificationKeyFile;

  router.get('/api/admin/audit/seal/key', requirePermission('audit:key'), async (ctx: Koa.Context) => {
    ctx.set('Cache-Control', 'no-store');
    const p = await pendingVerificationKey(file());
    if (!p) {
      ctx.body = { pending: false };
      return;
    }
    await auth.record(ctx, { action: 'audit.seal.key.view', target: p.keyId, outcome: 'success', details: { format: 'text' } });
    ctx.body = { pending: true, keyId: p.keyId, key: p.key, createdAt: p.createdAt };
  });

  router.get('/api/admin/audit/seal/key.svg', requirePermission('audit:key'), async (ctx: Koa.Context) => {
    const p = await pendingVerificationKey(file());
    if (!p) throw noneWaiting();
    // Rendered here, from the npm package on disk: the page loads nothing from elsewhere.
    const svg = await QRCode.toString(p.key, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    await auth.record(ctx, { action: 'audit.seal.key.view', target: p.keyId, outcome: 'success', details: { format: 'qr' } });
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'image/svg+xml';
    ctx.body = svg;
  });

  router.post('/api/admin/audit/seal/key/taken', requirePermission('audit:key'), async (ctx: Koa.Context) => {
    const body = { data: await readJson(ctx, takenBody) };
    const p = await pendingVerificationKey(file());
    if (!p) throw noneWaiting();
    if (p.keyId !== body.data.keyId) {
      await auth.record(ctx, { action: 'audit.seal.key.taken', target: body.data.keyId, outcome: 'failure', details: { error: 'AUDIT_VKEY_CHANGED', waiting: p.keyId } });
      throw new ApplianceError('AUDIT_VKEY_CHANGED', `待取走的验证密钥已换成指纹 ${p.keyId} 的一把：请重新打开此页，取走新的密钥后再确认。`, 'the waiting key is not the one confirmed', {
        status: 409,
      });
    }
    await eraseVerificationKey(file());
    await auth.record(ctx, { action: 'audit.seal.key.taken', target: p.keyId, outcome: 'success', details: { erased: file() } });
    ctx.body = { ok: true, keyId: p.keyId };
  });

  router.post('/api/admin/audit/seal/verify', requirePermission('audit:verify'), async (ctx: Koa.Context) => {
    const body = { data: await readJson(ctx, verifyBody) };
    let keys: Buffer[];
    try {
      keys = parseVerificationKeys(body.data.key);
    } catch (e) {
      await auth.record(ctx, { action: 'audit.verify', target: 'audit', outcome: 'failure', details: { error: isApplianceError(e) ? e.code : 'INTERNAL', withKey: true } });
      throw e;
    }
    const r = await verifyAudit(auth.audit.dir, { keys, requireSealKey: true });
    await auth.record(ctx, {
      action: 'audit.verify',
      target: 'audit',
      outcome: r.ok ? 'success' : 'failure',
      details: { records: r.records, firstBroken: r.firstBroken ?? null, seals: r.seals?.status ?? null, withKey: true },
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = r;
  });
}
