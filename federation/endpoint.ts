import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ApplianceError, isApplianceError, parseHostPort, type Logger, type MeiliConnection } from '../core/index.ts';
import type { AuditLog } from '../security/index.ts';
import { APPROXIMATE_FACET, type SharedCheck, type SharedVerifier } from '../search/index.ts';
import type { FederationIdentity } from './identity.ts';
import { peerToken, SHARED_INDEX, tokenKeyUid } from './peer-keys.ts';
import type { Peer } from './peers.ts';

/**
 * The federation endpoint: HTTPS on federation.addr with mutual TLS. A client must present the
 * certificate of a joined office (pinned from its invitation; the handshake refuses any other),
 * and may then do exactly two things:
 *   POST /multi-search          a search on the shared index with that office's own token,
 *                               forwarded to the loopback Meilisearch (which applies the token's filter);
 *   POST /federation/credential that office's tenant token (the peer's relay fetches it here, so the
 *                               token never travels on removable media or in the clear).
 * Everything else (index, settings, documents, keys, tasks, stats routes, any GET) is refused.
 */
export const MAX_SEARCH_BODY = 256 * 1024;
export const MAX_QUERIES = 16;
export const CREDENTIAL_PATH = '/federation/credential';
export const SHARED_COUNT_HEADER = 'x-archive-shared-documents';
/** An answer flagged approximate (search/shared-verify.ts APPROXIMATE_FACET) also says so here, for a caller that reads it itself. */
export const APPROXIMATE_HEADER = 'x-archive-approximate';

const FEDERATION_KEYS = new Set(['limit', 'offset', 'facetsByIndex', 'mergeFacets']);
/** Query fields that would reach beyond the shared index's text: vectors, embedders, other remotes. */
const MUST_BE_EMPTY = ['vector', 'media', 'hybrid'];

/** Why a search body is refused, or undefined when it is a plain search on the shared index. */
export function searchBodyProblem(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'body is not an object';
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (k !== 'queries' && k !== 'federation') return `unknown field ${k}`;
  if (!Array.isArray(b.queries) || b.queries.length === 0 || b.queries.length > MAX_QUERIES) return 'queries missing or too many';
  if (b.federation !== undefined && b.federation !== null) {
    if (typeof b.federation !== 'object' || Array.isArray(b.federation)) return 'federation is not an object';
    const fed = b.federation as Record<string, unknown>;
    for (const k of Object.keys(fed)) if (!FEDERATION_KEYS.has(k)) return `federation.${k} not allowed`;
    const fbi = fed.facetsByIndex;
    if (fbi !== undefined && fbi !== null && (typeof fbi !== 'object' || Object.keys(fbi).some((k) => k !== SHARED_INDEX))) return 'facets of another index';
  }
  for (const q of b.queries as unknown[]) {
    if (!q || typeof q !== 'object' || Array.isArray(q)) return 'query is not an object';
    const query = q as Record<string, unknown>;
    if (query.indexUid !== SHARED_INDEX) return `index ${String(query.indexUid)} is not shared`;
    for (const k of MUST_BE_EMPTY) if (query[k] !== undefined && query[k] !== null) return `${k} not allowed`;
    const fo = query.federationOptions;
    if (fo !== undefined && fo !== null) {
      if (typeof fo !== 'object' || Array.isArray(fo)) return 'federationOptions is not an object';
      const remote = (fo as Record<string, unknown>).remote;
      if (remote !== undefined && remote !== null) return 'remote searches are not forwarded';
    }
  }
  return undefined;
}

export interface EndpointDeps {
  addr: string;
  identity: FederationIdentity;
  conn: MeiliConnection;
  peers: () => Peer[];
  audit: AuditLog;
  log: Logger;
  /** This office's code (names it in an answer flagged approximate). */
  office: string;
  /** The exact check of each query, run with the asking office's token before the query goes on. */
  verifier: Pick<SharedVerifier, 'check'>;
}

export interface FederationEndpoint {
  server: Server;
  addr: string;
  /** Follow a new set of peers: the handshake trusts exactly them, connections of removed ones end. */
  update(peers: Peer[]): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > max) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Meilisearch's error shape, so the asking Meilisearch reports it in remoteErrors. */
const refusal = (code: string, message: string) => ({ message, code, type: 'auth', link: '' });

/** The queries' text, for the answering side's audit (the trail caps long text). */
function queryText(body: { queries: Array<{ q?: unknown }> }): string {
  return body.queries.map((q) => (typeof q.q === 'string' ? q.q : '')).join(' | ');
}

/** A federated answer with the approximate facet added (a non-federated answer has only the header). */
function flagApproximate(text: string, office: string): string {
  let answer: Record<string, any>;
  try {
    answer = JSON.parse(text) as Record<string, any>;
  } catch {
    return text;
  }
  if (!Array.isArray(answer.hits)) return text;
  const byIndex = (answer.facetsByIndex ??= {}) as Record<string, { distribution?: Record<string, Record<string, number>>; stats?: Record<string, unknown> }>;
  const shared = (byIndex[SHARED_INDEX] ??= { distribution: {}, stats: {} });
  shared.distribution ??= {};
  shared.stats ??= {};
  shared.distribution[APPROXIMATE_FACET] = { [office]: 1 };
  return JSON.stringify(answer);
}

export async function startEndpoint(deps: EndpointDeps): Promise<FederationEndpoint> {
  const { host, port } = parseHostPort(deps.addr);
  // An empty CA list would mean node's public roots: with no peer yet, trust only our own certificate
  // (which maps to no peer, so every request is still refused).
  const context = (peers: Peer[]) => ({ key: deps.identity.key, cert: deps.identity.cert, ca: peers.length ? peers.map((p) => p.cert) : [deps.identity.cert] });
  const counts = new Map<string, { n: number; at: number }>();

  const refreshing = new Set<string>();
  /** The last count (refreshed in the background at most once a minute: never on a search's path). */
  function sharedCount(peer: Peer): number | undefined {
    const hit = counts.get(peer.code);
    if ((!hit || Date.now() - hit.at >= 60_000) && !refreshing.has(peer.code)) {
      refreshing.add(peer.code);
      void countShared(peer)
        .catch(() => undefined)
        .finally(() => refreshing.delete(peer.code));
    }
    return hit?.n;
  }

  async function countShared(peer: Peer): Promise<number | undefined> {
    // Counted with the peer's own token: exactly what that office may see, nothing it may not.
    const { token } = await peerToken(peer);
    const r = await fetch(`${deps.conn.host}/indexes/${SHARED_INDEX}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ q: '', hitsPerPage: 0, page: 1 }),
      signal: AbortSignal.timeout(2_000),
    }).catch(() => undefined);
    const n = r?.ok ? ((await r.json()) as { totalHits?: number }).totalHits : undefined;
    if (typeof n === 'number') counts.set(peer.code, { n, at: Date.now() });
    return n;
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as TLSSocket;
    const fp = socket.getPeerCertificate()?.fingerprint256;
    const peer = fp ? deps.peers().find((p) => p.fingerprint === fp) : undefined;
    const source = socket.remoteAddress ?? '-';
    const path = (req.url ?? '').split('?')[0];
    const deny = async (status: number, code: string, zh: string, reason: string) => {
      await deps.audit.append({
        actor: peer ? `office:${peer.code}` : '-',
        role: 'federation',
        source,
        action: 'federation.endpoint.deny',
        target: `${req.method} ${path}`,
        outcome: 'denied',
        details: { office: peer?.code ?? '-', reason },
      });
      send(res, status, refusal(code, zh));
    };
    if (!peer) return deny(403, 'federation_unknown_office', '未加入联合检索的单位证书', 'certificate of no joined office');
    if (req.method !== 'POST' || (path !== '/multi-search' && path !== CREDENTIAL_PATH)) return deny(404, 'federation_route_refused', '联合检索只受理共享索引上的检索', 'route refused');
    const raw = await readBody(req, MAX_SEARCH_BODY);
    if (!raw) return deny(413, 'federation_body_too_large', '检索请求过大', 'body too large');
    if (path === CREDENTIAL_PATH) {
      const t = await peerToken(peer);
      await deps.audit.append({
        actor: `office:${peer.code}`,
        role: 'federation',
        source,
        action: 'federation.credential.issue',
        target: peer.code,
        outcome: 'success',
        details: { office: peer.code, expiresAt: t.expiresAt },
      });
      return send(res, 200, t);
    }
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (tokenKeyUid(token) !== peer.keyUid) return deny(403, 'invalid_api_key', '检索密钥不属于该单位', 'key of another office');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return deny(400, 'federation_bad_request', '检索请求不是 JSON', 'not JSON');
    }
    const problem = searchBodyProblem(body);
    if (problem) return deny(400, 'federation_bad_request', '联合检索只受理共享索引上的普通检索', problem);
    const q = queryText(body as { queries: Array<{ q?: unknown }> });
    const recordAnswer = (outcome: 'success' | 'failure', details: Record<string, unknown>) =>
      deps.audit.append({
        actor: `office:${peer.code}`,
        role: 'federation',
        source,
        action: 'federation.search.answer',
        target: SHARED_INDEX,
        outcome,
        details: { office: peer.code, officeName: peer.name, q, ...details },
      });
    // Exact before it goes on: candidates of a long term checked against their texts, under this
    // very token and filter (search/shared-verify.ts). Not checked means not answered.
    let checked: SharedCheck;
    try {
      checked = await deps.verifier.check(body as SharedCheck['body'], token);
    } catch (e) {
      const status = isApplianceError(e) ? e.status : 500;
      const meiliCode = isApplianceError(e) ? String(e.details?.meiliCode ?? '') : '';
      deps.log.warn({ err: (e as Error).message }, 'federation endpoint: exact check failed');
      await recordAnswer('failure', { status, error: isApplianceError(e) ? e.code : 'INTERNAL', stage: 'exact check' });
      // 403 lets the asking relay fetch a new token (its old one was refused); anything else is the engine's fault here.
      if (status === 403) return send(res, 403, refusal(meiliCode || 'invalid_api_key', '检索密钥被拒绝'));
      if (meiliCode && status < 500) return send(res, 400, refusal(meiliCode, '检索请求有误'));
      return send(res, 503, { message: '检索服务不可用', code: 'federation_search_unavailable', type: 'system', link: '' });
    }
    let upstream: Response;
    try {
      upstream = await fetch(`${deps.conn.host}/multi-search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'meili-proxy-search': 'true' },
        body: checked.body === body ? new Uint8Array(raw) : JSON.stringify(checked.body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (e) {
      deps.log.warn({ err: (e as Error).message }, 'federation endpoint: meilisearch unreachable');
      return send(res, 503, { message: '检索服务不可用', code: 'federation_search_unavailable', type: 'system', link: '' });
    }
    let text = await upstream.text();
    if (upstream.ok && checked.approximate) text = flagApproximate(text, deps.office);
    await recordAnswer(upstream.ok ? 'success' : 'failure', { status: upstream.status, ...(checked.approximate ? { approximate: true } : {}) });
    const n = upstream.ok ? sharedCount(peer) : undefined;
    res.writeHead(upstream.status, {
      'content-type': 'application/json',
      ...(n === undefined ? {} : { [SHARED_COUNT_HEADER]: String(n) }),
      ...(checked.approximate ? { [APPROXIMATE_HEADER]: '1' } : {}),
    });
    res.end(text);
  };

  const server = createServer({ ...context(deps.peers()), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((e) => {
      deps.log.error({ err: (e as Error).message }, 'federation endpoint error');
      send(res, 500, { message: '内部错误', code: 'internal', type: 'internal', link: '' });
    });
  });
  server.on('tlsClientError', (e) => deps.log.warn({ err: e.message }, 'federation endpoint: TLS handshake refused'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new ApplianceError(
          'FEDERATION_LISTEN_FAILED',
          `无法在 ${deps.addr} 上启动联合检索端点：${e.code === 'EADDRINUSE' ? '端口已被占用' : e.message}`,
          `cannot listen on ${deps.addr}: ${e.message}`,
          {
            cause: e,
          },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const a = server.address();
  const addr = typeof a === 'object' && a ? `${host}:${a.port}` : deps.addr;
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (s: TLSSocket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    server,
    addr,
    update(peers) {
      server.setSecureContext(context(peers));
      const pinned = new Set(peers.map((p) => p.fingerprint));
      for (const s of sockets) if (!pinned.has(s.getPeerCertificate()?.fingerprint256 ?? '')) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
