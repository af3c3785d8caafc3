import { randomUUID } from 'node:crypto';
import { generateTenantToken } from 'meilisearch/token';
import { ApplianceError, type MeiliConnection } from '../core/index.ts';
import { INDEX_SHARED } from '../search/index.ts';
import type { Peer } from './peers.ts';

/** The index of shared items (its schema and writer are search/'s). */
export const SHARED_INDEX = INDEX_SHARED;

/** How long a peer's token lives; the peer's relay fetches a new one before it ends. */
export const PEER_TOKEN_TTL_MS = 7 * 86_400_000;

async function admin(conn: MeiliConnection, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  let r: Response;
  try {
    r = await fetch(`${conn.host}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${conn.apiKey}` },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new ApplianceError('SEARCH_UNAVAILABLE', `检索服务不可用（${method} ${path}）。`, `meilisearch unavailable: ${(e as Error).message}`, { status: 503, cause: e });
  }
  return { status: r.status, json: await r.json().catch(() => undefined) };
}

export { admin as meiliAdmin };

/** A Meilisearch key for one peer: search only, the shared index only, no expiry (removal deletes it). */
export async function createPeerKey(conn: MeiliConnection, peerCode: string): Promise<{ keyUid: string; key: string }> {
  const uid = randomUUID();
  const r = await admin(conn, 'POST', '/keys', {
    uid,
    name: `federation-peer-${peerCode}`,
    description: `联合检索：单位 ${peerCode} 的检索密钥（只读、仅 shared 索引）`,
    actions: ['search'],
    indexes: [SHARED_INDEX],
    expiresAt: null,
  });
  if (r.status !== 201)
    throw new ApplianceError('FEDERATION_KEY_FAILED', `无法为单位 ${peerCode} 建立检索密钥：${r.json?.code ?? r.status}`, `cannot create peer key: ${JSON.stringify(r.json)}`, { status: 502 });
  return { keyUid: uid, key: r.json.key as string };
}

/** Delete a peer's key: every token signed with it fails from this moment. Absent is fine. */
export async function deletePeerKey(conn: MeiliConnection, keyUid: string): Promise<void> {
  const r = await admin(conn, 'DELETE', `/keys/${encodeURIComponent(keyUid)}`);
  if (r.status !== 204 && r.status !== 404)
    throw new ApplianceError('FEDERATION_KEY_FAILED', `无法删除联合检索密钥：${r.json?.code ?? r.status}`, `cannot delete peer key: ${JSON.stringify(r.json)}`, { status: 502 });
}

/**
 * What a peer may see of the shared index: a 上级 office sees items shared to 上级 and to 全辖区;
 * every other office (下级, 平级) only 全辖区.
 */
export function peerFilter(relation: Peer['relation']): string {
  return relation === 'parent' ? 'scope IN ["parent", "all"]' : 'scope = "all"';
}

/** A tenant token for the peer: its key, its filter, a bounded life. */
export async function peerToken(peer: Pick<Peer, 'key' | 'keyUid' | 'relation'>, now = Date.now()): Promise<{ token: string; expiresAt: string }> {
  const expiresAt = new Date(now + PEER_TOKEN_TTL_MS);
  const token = await generateTenantToken({
    apiKey: peer.key,
    apiKeyUid: peer.keyUid,
    searchRules: { [SHARED_INDEX]: { filter: peerFilter(peer.relation) } },
    expiresAt,
    algorithm: 'HS256',
  });
  return { token, expiresAt: expiresAt.toISOString() };
}

/** The apiKeyUid a tenant token claims (unverified: Meilisearch checks the signature). */
export function tokenKeyUid(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { apiKeyUid?: unknown };
    return typeof payload.apiKeyUid === 'string' ? payload.apiKeyUid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every joined peer's key present in Meilisearch, under its uid (Meilisearch is derived data: after
 * a restore or a rebuilt database the keys are gone). A recreated key gets a new value (it depends
 * on the master key): the caller stores it; the peer's old token then fails once and its relay
 * fetches a new one.
 */
export async function ensurePeerKey(conn: MeiliConnection, peer: Pick<Peer, 'code' | 'keyUid' | 'key'>): Promise<string> {
  const r = await admin(conn, 'GET', `/keys/${encodeURIComponent(peer.keyUid)}`);
  if (r.status === 200) return r.json.key as string;
  if (r.status !== 404)
    throw new ApplianceError('FEDERATION_KEY_FAILED', `无法读取单位 ${peer.code} 的检索密钥：${r.json?.code ?? r.status}`, `cannot read peer key: ${JSON.stringify(r.json)}`, { status: 502 });
  const c = await admin(conn, 'POST', '/keys', {
    uid: peer.keyUid,
    name: `federation-peer-${peer.code}`,
    description: `联合检索：单位 ${peer.code} 的检索密钥（只读、仅 shared 索引）`,
    actions: ['search'],
    indexes: [SHARED_INDEX],
    expiresAt: null,
  });
  if (c.status !== 201)
    throw new ApplianceError('FEDERATION_KEY_FAILED', `无法为单位 ${peer.code} 重建检索密钥：${c.json?.code ?? c.status}`, `cannot recreate peer key: ${JSON.stringify(c.json)}`, { status: 502 });
  return c.json.key as string;
}
