import { type Config, type Logger, type MeiliConnection } from '../core/index.ts';
import type { AuditLog } from '../security/index.ts';
import { createSharedVerifier } from '../search/index.ts';
import { startEndpoint, type FederationEndpoint } from './endpoint.ts';
import { federationIdentity, officeOf, removePeer, type OfficeIdentity } from './membership.ts';
import { syncNetwork } from './network-sync.ts';
import { peersStamp, readPeers, updatePeers, type Peer } from './peers.ts';
import { ensurePeerKey } from './peer-keys.ts';
import { startRelay, type PeerState, type Relay } from './relay.ts';

/**
 * 联合检索 while the appliance runs: the federation endpoint on federation.addr, the loopback relay,
 * and Meilisearch's /network kept equal to peers.json (read at start and whenever the console or
 * the web page changes it: the file is watched, so a `remove` at the console takes effect here
 * within a second — its key is already deleted by then).
 */
export interface FederationService {
  office(): OfficeIdentity;
  /** For the federated search (web/federated-search.ts FederationView): this office and its joined peers. */
  self(): OfficeIdentity;
  remotes(): OfficeIdentity[];
  /** Remote names for a federated query besides `self` (= office().code): every joined peer. */
  activeRemotes(): string[];
  peerStates(): PeerState[];
  /** The endpoint's actual address (port 0 resolved). */
  endpointAddr: string;
  removePeer(code: string): Promise<void>;
  /** Re-read peers.json now (the watcher does this too). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export interface FederationDeps {
  cfg: Pick<Config, 'dataDir' | 'office' | 'federation'>;
  conn: MeiliConnection;
  audit: AuditLog;
  log: Logger;
  /** The key Meilisearch's `self` remote carries (never sent anywhere: self runs locally). */
  selfKey?: string;
  timeoutMs?: number;
  watchMs?: number;
}

export async function startFederation(deps: FederationDeps): Promise<FederationService> {
  const office = officeOf(deps.cfg);
  const identity = await federationIdentity(deps.cfg);
  // Keys back in Meilisearch if its database was rebuilt (restore, reindex): a peer never silently loses access.
  await updatePeers(deps.cfg.dataDir, async (f) => {
    for (const p of f.peers) p.key = await ensurePeerKey(deps.conn, p);
  });
  let peers: Peer[] = (await readPeers(deps.cfg.dataDir)).peers;
  const relay: Relay = await startRelay({ identity, log: deps.log, timeoutMs: deps.timeoutMs });
  relay.update(peers);
  let endpoint: FederationEndpoint | undefined;
  try {
    endpoint = await startEndpoint({
      addr: deps.cfg.federation.addr!,
      identity,
      conn: deps.conn,
      peers: () => peers,
      audit: deps.audit,
      log: deps.log,
      office: office.code,
      verifier: createSharedVerifier(deps.conn, deps.cfg.dataDir),
    });
    await syncNetwork(deps.conn, office.code, peers, relay, deps.selfKey ?? 'self');
  } catch (e) {
    await endpoint?.close();
    await relay.close();
    throw e;
  }
  let stamp = await peersStamp(deps.cfg.dataDir);
  let running: Promise<void> = Promise.resolve();
  const reload = () =>
    (running = running.then(async () => {
      stamp = await peersStamp(deps.cfg.dataDir);
      peers = (await readPeers(deps.cfg.dataDir)).peers;
      relay.update(peers);
      endpoint!.update(peers);
      await syncNetwork(deps.conn, office.code, peers, relay, deps.selfKey ?? 'self');
      deps.log.info({ peers: peers.map((p) => p.code) }, 'federation peers loaded');
    }));
  const timer = setInterval(() => {
    void peersStamp(deps.cfg.dataDir)
      .then((s) => (s !== stamp ? reload() : undefined))
      .catch((e) => deps.log.error({ err: (e as Error).message }, 'federation: cannot follow peers.json'));
  }, deps.watchMs ?? 1_000);
  timer.unref();
  deps.log.info({ office: office.code, endpoint: endpoint.addr, relayPort: relay.port, peers: peers.length }, 'federation ready');
  return {
    office: () => office,
    self: () => office,
    remotes: () => peers.map((p) => ({ code: p.code, name: p.name })),
    activeRemotes: () => peers.map((p) => p.code),
    peerStates: () => relay.states(),
    endpointAddr: endpoint.addr,
    async removePeer(code) {
      await removePeer(deps.cfg.dataDir, deps.conn, code);
      await reload();
    },
    reload,
    async stop() {
      clearInterval(timer);
      await running.catch(() => undefined);
      await endpoint!.close();
      await relay.close();
    },
  };
}
