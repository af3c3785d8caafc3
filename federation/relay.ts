import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseHostPort, type Logger } from '../core/index.ts';
import { CREDENTIAL_PATH, MAX_SEARCH_BODY, SHARED_COUNT_HEADER } from './endpoint.ts';
import type { FederationIdentity } from './identity.ts';
import type { Peer } from './peers.ts';

/**
 * The loopback relay: the url this appliance's Meilisearch has for every peer in /network is
 * http://127.0.0.1:<port>/peer/<office>. Meilisearch cannot present a client certificate, so the
 * relay carries its call to the peer's federation endpoint over mutual TLS: this office's
 * federation certificate as the client's, the peer's pinned certificate as the only server
 * certificate accepted. It replaces the key Meilisearch sends (a per-start secret that only proves
 * the call came from our Meilisearch) with the peer's tenant token, fetched from the peer over the
 * same channel.
 *
 * Bounded: each peer gets `timeoutMs` for the whole call (token included). On timeout or a
 * connection failure the relay answers 4xx at once: Meilisearch retries a remote three more times
 * on 5xx (measured, test/federation/relay.test.ts) but not on 4xx, so one slow county costs the
 * search at most one bound, and Meilisearch names it in remoteErrors.
 */
export interface PeerState {
  code: string;
  name: string;
  relation: Peer['relation'];
  addr: string;
  /** undefined until this appliance has asked it once since start. */
  reachable?: boolean;
  lastAnswerAt?: string;
  lastError?: string;
  /** How many shared documents the peer lets this office see (its endpoint says so with each answer). */
  documentsShared?: number;
}

export interface Relay {
  port: number;
  /** The searchApiKey to put in /network for every peer (never leaves the machine). */
  secret: string;
  url(code: string): string;
  update(peers: Peer[]): void;
  states(): PeerState[];
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One mutually authenticated HTTPS call to a peer's endpoint, the peer's certificate pinned. */
export function callPeer(
  id: FederationIdentity,
  peer: Pick<Peer, 'addr' | 'cert' | 'fingerprint'>,
  path: string,
  body: Buffer | string,
  headers: Record<string, string>,
  deadline: number,
  agent: Agent | false = false,
): Promise<Answer> {
  const { host, port } = parseHostPort(peer.addr);
  return new Promise((resolve, reject) => {
    const ms = deadline - Date.now();
    if (ms <= 0) return reject(new Error('timeout'));
    const req = request(
      {
        host,
        port,
        path,
        method: 'POST',
        key: id.key,
        cert: id.cert,
        ca: [peer.cert],
        // Pinning: the chain check above accepts only this certificate as the root; this accepts
        // only its exact fingerprint (whatever name or address it was issued for).
        checkServerIdentity: (_h, cert) => (cert.fingerprint256 === peer.fingerprint ? undefined : new Error('server certificate is not the pinned one')),
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
        agent,
        minVersion: 'TLSv1.2',
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 8 * 1024 * 1024) req.destroy(new Error('answer too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error('timeout')), ms);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_SEARCH_BODY) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ message, code, type: 'system', link: '' }));
}

export async function startRelay(opts: { identity: FederationIdentity; log: Logger; timeoutMs?: number }): Promise<Relay> {
  const timeoutMs = opts.timeoutMs ?? 2_500;
  const secret = randomBytes(32).toString('hex');
  let peers = new Map<string, Peer>();
  const tokens = new Map<string, { token: string; expiresAt: number; fingerprint: string }>();
  const state = new Map<string, Omit<PeerState, 'code' | 'name' | 'relation' | 'addr'>>();
  // Connections to a peer are kept open between searches (a TLS handshake per search cost more than
  // the search itself, bench/federation.ts); each new one is pinned the same way.
  const agents = new Map<string, Agent>();
  const agentFor = (peer: Peer) => {
    let a = agents.get(peer.code);
    if (!a) agents.set(peer.code, (a = new Agent({ keepAlive: true, maxSockets: 8, keepAliveMsecs: 1_000 })));
    return a;
  };

  async function tokenFor(peer: Peer, deadline: number): Promise<string> {
    const t = tokens.get(peer.code);
    if (t && t.fingerprint === peer.fingerprint && t.expiresAt - Date.now() > 86_400_000) return t.token;
    const a = await callPeer(opts.identity, peer, CREDENTIAL_PATH, '{}', {}, deadline, agentFor(peer));
    if (a.status !== 200) throw new Error(`credential refused (${a.status})`);
    const v = JSON.parse(a.body.toString('utf8')) as { token?: unknown; expiresAt?: unknown };
    if (typeof v.token !== 'string' || typeof v.expiresAt !== 'string') throw new Error('credential answer malformed');
    tokens.set(peer.code, { token: v.token, expiresAt: Date.parse(v.expiresAt), fingerprint: peer.fingerprint });
    return v.token;
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/peer\/([A-Za-z0-9_-]+)\/multi-search$/.exec(req.url ?? '');
    const given = Buffer.from((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const want = Buffer.from(secret);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return fail(res, 403, 'invalid_api_key', 'relay: not our Meilisearch');
    if (req.method !== 'POST' || !m) return fail(res, 404, 'federation_route_refused', 'relay: only POST /peer/<office>/multi-search');
    const peer = peers.get(m[1]);
    if (!peer) return fail(res, 404, 'federation_unknown_office', `relay: office ${m[1]} is not joined`);
    const body = await readBody(req);
    if (!body) return fail(res, 413, 'federation_body_too_large', 'relay: body too large');
    const deadline = Date.now() + timeoutMs;
    const s = state.get(peer.code) ?? {};
    state.set(peer.code, s);
    try {
      let a: Answer | undefined;
      // A refused token (the peer rebuilt its keys, or an old one expired early) is fetched anew once.
      for (let attempt = 0; attempt < 2; attempt++) {
        const token = await tokenFor(peer, deadline);
        a = await callPeer(opts.identity, peer, '/multi-search', body, { authorization: `Bearer ${token}`, 'meili-proxy-search': 'true' }, deadline, agentFor(peer));
        if (a.status !== 401 && a.status !== 403) break;
        tokens.delete(peer.code);
      }
      if (!a) throw new Error('no answer');
      s.reachable = true;
      s.lastAnswerAt = new Date().toISOString();
      s.lastError = a.status === 200 ? undefined : `HTTP ${a.status}`;
      const n = Number(a.headers[SHARED_COUNT_HEADER]);
      if (a.status === 200 && Number.isInteger(n) && n >= 0) s.documentsShared = n;
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.body);
    } catch (e) {
      const msg = (e as Error).message;
      s.reachable = false;
      s.lastError = msg === 'timeout' ? `no answer within ${timeoutMs} ms` : msg;
      opts.log.warn({ office: peer.code, err: msg }, 'federation relay: peer did not answer');
      // 4xx, not 5xx: Meilisearch would retry a 5xx three times, multiplying the bound.
      fail(res, 408, msg === 'timeout' ? 'federation_peer_timeout' : 'federation_peer_unreachable', `单位 ${peer.code} 未响应：${s.lastError}`);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => fail(res, 400, 'federation_relay_error', (e as Error).message));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    secret,
    url: (code) => `http://127.0.0.1:${port}/peer/${code}`,
    update(list) {
      peers = new Map(list.map((p) => [p.code, p]));
      for (const code of [...tokens.keys()]) if (!peers.has(code) || tokens.get(code)!.fingerprint !== peers.get(code)!.fingerprint) tokens.delete(code);
      for (const code of [...state.keys()]) if (!peers.has(code)) state.delete(code);
      for (const [code, a] of [...agents]) {
        const p = peers.get(code);
        if (!p || tokens.get(code)?.fingerprint !== p.fingerprint) {
          a.destroy();
          agents.delete(code);
        }
      }
    },
    states: () => [...peers.values()].map((p) => ({ code: p.code, name: p.name, relation: p.relation, addr: p.addr, ...state.get(p.code) })),
    close: () =>
      new Promise<void>((r) => {
        for (const a of agents.values()) a.destroy();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
