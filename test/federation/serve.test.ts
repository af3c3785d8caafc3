import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { consoleServices } from '../../appliance/console-services.ts';
import { freeLoopbackPort } from '../../appliance/meili-supervisor.ts';
import { cleanup, consoleHealth, runCli, startServe, tempDir, waitFor, type ServeHandle } from '../support/appliance.ts';
import { meiliApi } from '../search/support.ts';

/**
 * `archive serve` with federation.addr: two appliances on loopback, joined at the console while
 * both run (the console uses the running Meilisearch; the running appliance follows peers.json into
 * its endpoint, relay and /network), searched as one by Meilisearch, and a removal at the console
 * taking effect in the running appliance.
 */
describe('archive serve with 联合检索', () => {
  let root: string;
  const apps: Record<string, { serve: ServeHandle; env: Record<string, string>; conn: { host: string; apiKey: string } }> = {};

  const api = (code: string, method: string, path: string, body?: unknown) => meiliApi(apps[code], method, path, body);
  const cli = (code: string, args: string[]) => runCli(args, apps[code].env, ['ARCHIVE_CONFIG']);

  beforeAll(async () => {
    root = await tempDir('archive-fed-serve-');
    for (const [code, name] of [
      ['SHI', '市编办'],
      ['XIAN', '县编办'],
    ]) {
      const env = {
        ARCHIVE_OFFICE_CODE: code,
        ARCHIVE_OFFICE_NAME: name,
        ARCHIVE_FEDERATION_ADDR: `127.0.0.1:${await freeLoopbackPort()}`,
        ARCHIVE_DATA_DIR: join(root, code),
        ARCHIVE_LOG_LEVEL: 'warn',
      };
      const serve = await startServe(env, join(root, code));
      await waitFor(async () => ((await (await consoleHealth(serve.base, serve.dataDir)).json()) as any)?.components?.meilisearch?.status === 'ok' || undefined, 60_000, `health (${serve.output()})`);
      const services = await consoleServices(loadConfig({ env }));
      expect(services.shared).toBe(true);
      apps[code] = { serve, env, conn: services.conn };
    }
  }, 180_000);

  afterAll(async () => {
    for (const a of Object.values(apps)) await a.serve.stop();
    await cleanup(root);
  });

  it('joined at the console while running; each Meilisearch reaches the other through relay and endpoint; a removal at the console reaches the running appliance', async () => {
    // (What is in `shared` is the running appliance's SharedIndex's business, from its item store:
    // test/federation/federated-search.test.ts. Here the transport: who answers whom.)
    for (const code of ['SHI', 'XIAN']) expect((await api(code, 'GET', '/network')).json.self).toBe(code);
    const inv = join(root, 'invite.json');
    const reply = join(root, 'reply.json');
    expect((await cli('SHI', ['federation', 'invite', '--invitee', '下级', '--out', inv])).code).toBe(0);
    const j = await cli('XIAN', ['federation', 'join', inv, '--out', reply]);
    expect(j.code, j.err).toBe(0);
    const back = await cli('SHI', ['federation', 'join', reply]);
    expect(back.code, back.err).toBe(0);
    // The running appliances follow: /network names the other office.
    await expect.poll(async () => Object.keys((await api('SHI', 'GET', '/network')).json.remotes).sort()).toEqual(['SHI', 'XIAN']);
    await expect.poll(async () => Object.keys((await api('XIAN', 'GET', '/network')).json.remotes).sort()).toEqual(['SHI', 'XIAN']);
    const search = (from: string, remotes: string[]) =>
      api(from, 'POST', '/multi-search', { federation: {}, queries: remotes.map((remote) => ({ indexUid: 'shared', q: '机构编制', federationOptions: { remote } })) });
    await expect.poll(async () => (await search('SHI', ['SHI', 'XIAN'])).json.remoteErrors).toEqual({});
    const fromCounty = await search('XIAN', ['XIAN', 'SHI']);
    expect(fromCounty.status).toBe(200);
    expect(fromCounty.json.remoteErrors).toEqual({});
    // Removed at the city's console: the county's searches there fail from now on, and /network follows.
    const rm = await cli('SHI', ['federation', 'remove', 'XIAN']);
    expect(rm.code, rm.err).toBe(0);
    const after = await search('XIAN', ['XIAN', 'SHI']);
    expect(Object.keys(after.json.remoteErrors)).toEqual(['SHI']);
    await expect.poll(async () => Object.keys((await api('SHI', 'GET', '/network')).json.remotes)).toEqual(['SHI']);
  }, 300_000);
});
