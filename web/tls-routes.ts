import type Router from '@koa/router';
import { ApplianceError } from '../core/index.ts';
import { publicRoute } from './authorize.ts';

/**
 * GET /ca.crt: the appliance CA's certificate, for staff to install once so the browser trusts
 * the appliance's HTTPS (README: 信任本机证书). Public: it is a certificate, not a secret, and it
 * is needed before anyone can log in safely. Absent when the operator's own certificate is used.
 */
export function tlsRoutes(router: Router, deps: { caCert: () => Promise<string | undefined> }): void {
  router.get('/ca.crt', publicRoute(), async (ctx) => {
    const pem = await deps.caCert();
    if (!pem) throw new ApplianceError('NOT_FOUND', '本设备使用单位自有证书，无需下载本机根证书。', 'no appliance CA in use', { status: 404 });
    ctx.set('Content-Disposition', 'attachment; filename="archive-appliance-ca.crt"');
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'application/x-x509-ca-cert';
    ctx.body = pem;
  });
}
