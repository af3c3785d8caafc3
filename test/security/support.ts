import type { Server } from 'node:http';
import { healthReport, type HealthReport } from '../../core/health.ts';
import { createLogger } from '../../core/log.ts';
import { createWebApp } from '../../web/index.ts';
import { argon2Hasher, openSecurity, type PasswordHasher, type Role } from '../../security/index.ts';
import { createAuth, type Auth } from '../../web/auth.ts';
import type { SecurityStores } from '../../security/open-security.ts';
import { auditRecords, cleanup, tempDir } from '../support/appliance.ts';

export const GOOD_PASSWORD = 'Archive#2026-ok';

/** The real argon2id hasher, counting calls (so a test can see which path ran verify). */
export function countingHasher(): PasswordHasher & { verifies: string[]; hashes: number } {
  const h = {
    verifies: [] as string[],
    hashes: 0,
    async hash(p: string) {
      h.hashes++;
      return argon2Hasher.hash(p);
    },
    async verify(hash: string, p: string) {
      h.verifies.push(hash);
      return argon2Hasher.verify(hash, p);
    },
  };
  return h;
}

export interface TestApp {
  dir: string;
  base: string;
  auth: Auth;
  sec: SecurityStores;
  hasher: ReturnType<typeof countingHasher>;
  clock: { now: number; advance(ms: number): void };
  passwordHash: string;
  addUser(username: string, roles: Role[], opts?: { posts?: string[]; clearance?: '公开' | '内部' | '秘密'; mustChange?: boolean }): Promise<void>;
  client(): Client;
  auditCount(): Promise<number>;
  auditTail(n: number): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

/** The real koa app with the real security stores on a temp data dir, on a loopback port. */
export async function startTestApp(opts: { lockout?: { maxPerAccount?: number; maxPerSource?: number }; health?: () => Promise<HealthReport>; consoleToken?: string } = {}): Promise<TestApp> {
  const dir = await tempDir('archive-sec-');
  const sec = await openSecurity({ dataDir: dir });
  const clock = {
    now: Date.now(),
    advance(ms: number) {
      clock.now += ms;
    },
  };
  const hasher = countingHasher();
  const log = createLogger({ level: 'silent' });
  const auth = await createAuth({ configDir: sec.configDir, identity: sec.identity, audit: sec.audit, log, now: () => clock.now, hasher, lockout: opts.lockout });
  const app = createWebApp({ log, auth, health: opts.health ?? (() => healthReport({})), consoleToken: opts.consoleToken });
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const port = (server.address() as { port: number }).port;
  const passwordHash = await argon2Hasher.hash(GOOD_PASSWORD);
  const base = `http://127.0.0.1:${port}`;
  const readLines = () => auditRecords(dir);
  return {
    dir,
    base,
    auth,
    sec,
    hasher,
    clock,
    passwordHash,
    async addUser(username, roles, o = {}) {
      await sec.identity.createUser({ username, roles, posts: o.posts, clearance: o.clearance, passwordHash, mustChangePassword: o.mustChange ?? false });
    },
    client: () => new Client(base),
    auditCount: async () => (await readLines()).length,
    auditTail: async (n) => (await readLines()).slice(-n),
    async close() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await cleanup(dir);
    },
  };
}

/** Users on a data dir's identity store, each with GOOD_PASSWORD and no forced change; a staff user gets no posts and clearance 内部. */
export async function addUsers(identity: SecurityStores['identity'], users: Array<[string, Role[]]>): Promise<void> {
  const passwordHash = await argon2Hasher.hash(GOOD_PASSWORD);
  for (const [username, roles] of users)
    await identity.createUser({ username, roles, passwordHash, mustChangePassword: false, ...(roles[0] === 'staff' ? { posts: [], clearance: '内部' as const } : {}) });
}

/** One user of each role — sam (staff), amy (archivist), sys, sec, aud — added to `t` (with `opts(roles)`) and each logged in with a client of its own. */
export async function oneUserPerRole(t: TestApp, opts: (roles: Role[]) => { posts?: string[] } = () => ({})): Promise<Record<string, Client>> {
  const users: Array<[string, Role[]]> = [
    ['sam', ['staff']],
    ['amy', ['archivist']],
    ['sys', ['sysadmin']],
    ['sec', ['secadmin']],
    ['aud', ['auditor']],
  ];
  const as: Record<string, Client> = {};
  for (const [u, roles] of users) {
    await t.addUser(u, roles, opts(roles));
    as[u] = t.client();
    const r = await as[u].login(u);
    if (r.status !== 200) throw new Error(`login ${u}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  return as;
}

/** A browser-like client: keeps cookies, echoes the CSRF cookie in X-CSRF-Token unless told not to. */
export class Client {
  cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async req(method: string, path: string, body?: unknown, o: { csrf?: string | false; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any; headers: Headers }> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const csrf = o.csrf === undefined ? this.cookies.get('archive_csrf') : o.csrf;
    if (csrf) headers['x-csrf-token'] = csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const c of res.headers.getSetCookie()) {
      const [kv, ...attrs] = c.split(';');
      const i = kv.indexOf('=');
      const k = kv.slice(0, i).trim();
      const v = kv.slice(i + 1).trim();
      const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a) || /max-age=0/i.test(a.trim()));
      if (!v || expired) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON (e.g. an export) */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  get(path: string) {
    return this.req('GET', path);
  }

  async login(username: string, password = GOOD_PASSWORD) {
    if (!this.cookies.has('archive_csrf')) await this.get('/api/auth/csrf');
    return this.req('POST', '/api/auth/login', { username, password });
  }
}
