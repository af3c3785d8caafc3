import { readFile, readdir } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../core/config.ts';
import { freeLoopbackPort } from '../../appliance/meili-supervisor.ts';
import { startFederation, type FederationService } from '../../federation/index.ts';
import { loadOrCreateIdentity, type FederationIdentity } from '../../federation/identity.ts';
import { openSecurity } from '../../security/index.ts';
import { runCli } from '../support/appliance.ts';
import { meiliApi, meiliSettled, startMeili, type MeiliHandle } from '../search/support.ts';

/** One office's appliance for the federation tests: its data dir, config and (once started) Meilisearch and federation. */
export interface Office {
  code: string;
  name: string;
  dir: string;
  addr: string;
  env: Record<string, string>;
  cfg: Config;
  meili?: MeiliHandle;
  fed?: FederationService;
  identity(): Promise<FederationIdentity>;
  cli(args: string[]): Promise<{ code: number | null; out: string; err: string }>;
  start(opts?: { timeoutMs?: number }): Promise<void>;
  stopFederation(): Promise<void>;
  stop(): Promise<void>;
  api(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; json: any }>;
  audit(): Promise<Array<Record<string, any>>>;
}

export async function makeOffice(dir: string, code: string, name: string): Promise<Office> {
  const addr = `127.0.0.1:${await freeLoopbackPort()}`;
  const env = { ARCHIVE_DATA_DIR: dir, ARCHIVE_OFFICE_CODE: code, ARCHIVE_OFFICE_NAME: name, ARCHIVE_FEDERATION_ADDR: addr, ARCHIVE_MEILI_PORT: '0' };
  const cfg = loadConfig({ env });
  const o: Office = {
    code,
    name,
    dir,
    addr,
    env,
    cfg,
    identity: () => loadOrCreateIdentity(dir, code, '127.0.0.1'),
    cli: (args) => runCli(args, env, ['ARCHIVE_CONFIG']),
    async start(opts = {}) {
      o.meili ??= await startMeili({ dir });
      const sec = await openSecurity(cfg);
      o.fed = await startFederation({ cfg, conn: o.meili.conn, audit: sec.audit, log: pino({ level: 'silent' }), timeoutMs: opts.timeoutMs, watchMs: 200 });
    },
    async stopFederation() {
      await o.fed?.stop();
      o.fed = undefined;
    },
    async stop() {
      await o.stopFederation();
      await o.meili?.stop();
      o.meili = undefined;
    },
    api: (method, path, body, key) => meiliApi(o.meili!, method, path, body, key),
    async audit() {
      const adir = join(dir, 'audit');
      const files = (await readdir(adir)).filter((f) => /^audit-\d{4}\.jsonl$/.test(f)).sort();
      const lines = (await Promise.all(files.map((f) => readFile(join(adir, f), 'utf8')))).join('').split('\n').filter(Boolean);
      return lines.map((l) => JSON.parse(l));
    },
  };
  return o;
}

/** Put documents into an office's shared index through Meilisearch's admin API (the writer is search/'s). */
export async function putShared(o: Office, docs: Array<Record<string, unknown>>): Promise<void> {
  await o.api('PATCH', '/indexes/shared/settings', { filterableAttributes: ['scope'] });
  await o.api('POST', '/indexes/shared/documents', docs);
  await settled(o);
}

export async function settled(o: Office): Promise<void> {
  await meiliSettled(o.meili!);
}

/** The federated query fed-share's search makes, run with the admin key: self plus every joined peer. */
export async function federated(o: Office, q: string): Promise<{ status: number; json: any }> {
  const remotes = [o.code, ...o.fed!.activeRemotes()];
  return o.api('POST', '/multi-search', { federation: { limit: 50 }, queries: remotes.map((remote) => ({ indexUid: 'shared', q, federationOptions: { remote } })) });
}

/**
 * One HTTPS request to an office's federation endpoint, as a client holding `client` (or no
 * certificate), pinning the endpoint's certificate.
 */
export function mtls(
  target: Office,
  targetCert: string,
  client: FederationIdentity | undefined,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
  const [host, port] = target.addr.split(':');
  const data = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        path,
        method,
        key: client?.key,
        cert: client?.cert,
        ca: [targetCert],
        checkServerIdentity: () => undefined,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)), ...headers },
      },
      (res) => {
        let t = '';
        res.on('data', (d) => (t += d));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(t);
          } catch {
            json = t;
          }
          resolve({ status: res.statusCode ?? 0, json, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
