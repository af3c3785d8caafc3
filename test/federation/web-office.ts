import { pino } from 'pino';
import { freeLoopbackPort } from '../../appliance/meili-supervisor.ts';
import { invite, join, startFederation, type FederationService } from '../../federation/index.ts';
import type { Client } from '../security/support.ts';
import { startWebAppliance, type WebAppliance } from '../support/web-appliance.ts';

/** One office as a whole appliance (web app, item store, shared index, federation transport) for the end-to-end federation tests. */
export interface WebOffice {
  code: string;
  name: string;
  /** Its federation transport's loopback address. */
  addr: string;
  w: WebAppliance;
  fed?: FederationService;
  staff?: Client;
}

/**
 * Start an office's appliance with its own data dir and Meilisearch, its federation transport, posts
 * BGS and ZH, and a staff user `cha` (post BGS, clearance 内部) logged in. `reconcileMs`: the shared
 * index's reconcile interval (none: the test reconciles when it wants); `timeoutMs`: how long its
 * relay waits for a peer (5 s).
 */
export async function startWebOffice(code: string, name: string, opts: { reconcileMs?: number; timeoutMs?: number } = {}): Promise<WebOffice> {
  const addr = `127.0.0.1:${await freeLoopbackPort()}`;
  const o: WebOffice = { code, name, addr, w: undefined as unknown as WebAppliance };
  o.w = await startWebAppliance({
    posts: ['BGS', 'ZH'],
    office: { code, name },
    reconcileMs: opts.reconcileMs,
    env: { ARCHIVE_OFFICE_CODE: code, ARCHIVE_OFFICE_NAME: name, ARCHIVE_FEDERATION_ADDR: addr },
    federation: () => o.fed,
  });
  o.fed = await startFederation({ cfg: o.w.cfg, conn: o.w.meili.connection, audit: o.w.sec.audit, log: pino({ level: 'silent' }), watchMs: 200, timeoutMs: opts.timeoutMs ?? 5_000 });
  await o.w.addUser('cha', ['staff'], { posts: ['BGS'], clearance: '内部' });
  o.staff = await o.w.login('cha');
  return o;
}

/** inviter invites invitee as `as` (what the invitee is to the inviter), through files as on removable media. */
export async function linkOffices(inviter: WebOffice, invitee: WebOffice, as: 'child' | 'peer'): Promise<void> {
  const inv = await invite(inviter.w.cfg, as);
  const r = await join(invitee.w.cfg, invitee.w.meili.connection, Buffer.from(inv.file));
  await join(inviter.w.cfg, inviter.w.meili.connection, Buffer.from(r.reply!));
  for (const o of [inviter, invitee]) await o.fed!.reload();
}

export async function stopWebOffice(o: WebOffice | undefined): Promise<void> {
  await o?.fed?.stop().catch(() => undefined);
  await o?.w?.close().catch(() => undefined);
}
