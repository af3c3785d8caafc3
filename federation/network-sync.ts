import { ApplianceError, type MeiliConnection } from '../core/index.ts';
import { meiliAdmin } from './peer-keys.ts';
import type { Peer } from './peers.ts';

/**
 * Meilisearch's /network as this office's federation: the experimental feature on, `self` = the
 * office code, one remote per joined peer pointing at the loopback relay, and any other remote
 * (a removed peer) deleted. The office itself is a remote too, as Meilisearch requires, at its own
 * loopback address (queries for `self` run locally).
 */
export async function syncNetwork(conn: MeiliConnection, self: string, peers: Array<Pick<Peer, 'code'>>, relay: { url(code: string): string; secret: string }, selfKey: string): Promise<void> {
  const on = await meiliAdmin(conn, 'PATCH', '/experimental-features', { network: true });
  if (on.status !== 200 || on.json?.network !== true)
    throw new ApplianceError('FEDERATION_NETWORK_FAILED', '无法启用检索服务的联合检索功能。', `cannot enable network: ${JSON.stringify(on.json)}`, { status: 502 });
  const current = await meiliAdmin(conn, 'GET', '/network');
  const remotes: Record<string, { url: string; searchApiKey: string } | null> = { [self]: { url: conn.host, searchApiKey: selfKey } };
  for (const p of peers) remotes[p.code] = { url: relay.url(p.code), searchApiKey: relay.secret };
  for (const name of Object.keys((current.json?.remotes as Record<string, unknown> | undefined) ?? {})) if (!(name in remotes)) remotes[name] = null;
  const r = await meiliAdmin(conn, 'PATCH', '/network', { self, remotes });
  if (r.status !== 200) throw new ApplianceError('FEDERATION_NETWORK_FAILED', '无法更新检索服务的联合检索单位列表。', `cannot patch /network: ${JSON.stringify(r.json)}`, { status: 502 });
}
