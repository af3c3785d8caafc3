import type { Server } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Koa from 'koa';
import type Router from '@koa/router';
import { pino } from 'pino';
import { loadConfig, type Classification, type Config } from '../../core/config.ts';
import { ensureDataDir } from '../../core/data-dir.ts';
import { createLogger } from '../../core/log.ts';
import { MeiliSupervisor } from '../../appliance/meili-supervisor.ts';
import { createIngestService, type IngestService } from '../../ingest/index.ts';
import { type ItemMetadata } from '../../core/index.ts';
import { createSearchService, SharedIndexWriter, type SearchService } from '../../search/index.ts';
import { SharedIndex } from '../../federation/index.ts';
import { argon2Hasher, openSecurity, type Role } from '../../security/index.ts';
import { createAuth, type Auth } from '../../web/auth.ts';
import type { SecurityStores } from '../../security/open-security.ts';
import { createWebApp } from '../../web/index.ts';
import { type WebDeps } from '../../web/app.ts';
import { Client, GOOD_PASSWORD } from '../security/support.ts';
import { auditRecords, tempDir } from './appliance.ts';
import { stageItem, type StageOptions } from './staged-item.ts';

export interface AuditLine {
  seq: number;
  actor: string;
  role: string;
  source: string;
  action: string;
  target: string;
  outcome: string;
  details?: Record<string, unknown>;
}

/**
 * The real web app with its real parts on a temp data dir: Meilisearch (a child process whose pid
 * a test may stop), the item store, the ingest service (its runner started only when asked), the
 * security stores and the sealed audit trail, on a loopback port.
 */
export interface WebAppliance {
  dir: string;
  cfg: Config;
  base: string;
  app: Koa;
  meili: MeiliSupervisor;
  search: SearchService;
  ingest: IngestService;
  sec: SecurityStores;
  auth: Auth;
  /** With `office`: the shared index of 联合检索 (its reconcile runs every `reconcileMs` when given). */
  sharing?: SharedIndex;
  addUser(username: string, roles: Role[], o?: { posts?: string[]; clearance?: Classification }): Promise<void>;
  login(username: string): Promise<Client>;
  /** Store an item (random page images, the given originals) and index it. */
  putItem(opts: StageOptions): Promise<ItemMetadata>;
  audit(): Promise<AuditLine[]>;
  /** The router the app serves (found in the app's middleware, as koa-router marks it). */
  router(): Router;
  /**
   * SIGSTOP the Meilisearch child; the function returned sends SIGCONT. Its supervisor kills a child
   * that has neither answered nor used CPU for 2 minutes and starts a fresh one (resuming is then a no-op).
   */
  pauseMeili(): () => void;
  close(): Promise<void>;
}

export async function startWebAppliance(
  o: {
    clamd?: string;
    posts?: string[];
    web?: Partial<WebDeps>;
    office?: { code: string; name: string };
    /** The federation transport (started after the app, so looked up at each search). */
    federation?: () => { activeRemotes(): string[]; peerStates(): Array<{ code: string; name: string }> } | undefined;
    reconcileMs?: number;
    /** How long a narrowing of 共享范围 waits for Meilisearch (SharedIndex). */
    sharingDeadlineMs?: number;
    /** More configuration (e.g. ARCHIVE_OFFICE_CODE, ARCHIVE_FEDERATION_ADDR). */
    env?: Record<string, string>;
  } = {},
): Promise<WebAppliance> {
  const dir = await tempDir('archive-web-');
  const dataDir = join(dir, 'data');
  await ensureDataDir(dataDir);
  const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dataDir, ARCHIVE_MEILI_PORT: '0', ...(o.clamd ? { ARCHIVE_CLAMD: o.clamd } : {}), ...o.env } });
  const meili = new MeiliSupervisor(cfg, pino({ level: 'silent' }));
  await meili.start();
  const log = createLogger({ level: 'silent' });
  const search = createSearchService(meili.connection, dataDir);
  await search.init();
  const sec = await openSecurity(cfg);
  const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log });
  const ingest = await createIngestService(cfg, { log, audit: sec.audit, search, knownPosts: async () => new Set((await sec.identity.posts()).map((p) => p.code)) });
  for (const code of o.posts ?? []) await sec.identity.createPost({ code, name: `岗位${code}` });
  const sharing = o.office
    ? new SharedIndex({ dataDir, writer: new SharedIndexWriter(meili.connection), store: ingest.store, office: o.office.code, narrowingDeadlineMs: o.sharingDeadlineMs })
    : undefined;
  if (sharing && o.reconcileMs) sharing.start(o.reconcileMs);
  const office = o.office;
  const app = createWebApp({
    ...(sharing && office
      ? { sharing, federation: { office: () => office, activeRemotes: () => o.federation?.()?.activeRemotes() ?? [], peerStates: () => o.federation?.()?.peerStates() ?? [] } }
      : {}),
    log,
    auth,
    search,
    ingest,
    uploadDir: join(dataDir, 'run', 'uploads'),
    config: cfg,
    classificationCeiling: cfg.classificationCeiling,
    health: async () => ({ status: 'ok', time: '', components: {} }),
    ...o.web,
  });
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const passwordHash = await argon2Hasher.hash(GOOD_PASSWORD);
  let staged = 0;
  return {
    dir,
    cfg,
    base,
    app,
    meili,
    search,
    ingest,
    sec,
    auth,
    sharing,
    async addUser(username, roles, u = {}) {
      await sec.identity.createUser({ username, roles, posts: u.posts, clearance: u.clearance, passwordHash, mustChangePassword: false });
    },
    async login(username) {
      const c = new Client(base);
      const r = await c.login(username);
      if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
      return c;
    },
    async putItem(opts) {
      const { dir: stagedDir, meta } = await stageItem(join(dir, `stage-${staged++}`), opts);
      const stored = await ingest.store.putItem({ meta, dir: stagedDir });
      await search.indexItem(stored, await ingest.store.readText(stored.itemId));
      return stored;
    },
    audit: () => auditRecords<AuditLine>(dataDir),
    router() {
      const mw = app.middleware.find((m) => (m as unknown as { router?: Router }).router);
      if (!mw) throw new Error('no router in the app');
      return (mw as unknown as { router: Router }).router;
    },
    pauseMeili() {
      const pid = meili.pid!;
      process.kill(pid, 'SIGSTOP');
      return () => {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          /* killed and replaced by the supervisor meanwhile */
        }
      };
    },
    async close() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await sharing?.stop();
      await ingest.stop();
      await meili.stop();
      // A record still being sealed may create a file while the tree is removed: retry.
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}
