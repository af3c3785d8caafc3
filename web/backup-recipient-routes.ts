import type Router from '@koa/router';
import { z } from 'zod';
import type { Config } from '../core/index.ts';
import { roleLabel } from '../security/index.ts';
import { addRecipient, listRecipients } from '../custody/index.ts';
import { currentUser, requirePermission } from './authorize.ts';
import { readJson } from './http-body.ts';

/**
 * 安全保密管理员 registers the public keys backups are encrypted to (the private keys stay on their
 * own media; only a public key travels). The 系统管理员, who makes the backups, may list them on
 * their page (GET /api/admin/backups/keys) but never change them.
 */
const addBody = z.object({ publicKey: z.string().min(10).max(200), label: z.string().min(1).max(40).optional() }).strict();

export function backupRecipientRoutes(router: Router, deps: { cfg: Config }): void {
  const { cfg } = deps;
  router.get('/api/security/backup-recipients', requirePermission('backup:recipients'), async (ctx) => {
    ctx.body = { recipients: await listRecipients(cfg.dataDir) };
  });

  router.post('/api/security/backup-recipients', requirePermission('backup:recipients'), async (ctx) => {
    const { publicKey, label } = await readJson(ctx, addBody);
    const who = currentUser(ctx);
    // addRecipient checks the key, refuses duplicates and records backup.recipient.add.
    const rec = await addRecipient(cfg.dataDir, publicKey, { label, actor: { actor: who.user.username, role: roleLabel(who.roles), source: ctx.ip || '-' } });
    ctx.status = 201;
    ctx.body = { recipient: rec };
  });
}
