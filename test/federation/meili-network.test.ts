import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateTenantToken } from 'meilisearch/token';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meiliApi as api, meiliSettled as settled, startMeili, type MeiliHandle } from '../search/support.ts';

/**
 * The spike behind 联合检索 (../shared/DESIGN.md, federation/): what Meilisearch 1.21's remote
 * federated search calls on a remote, and how. Pinned as a test so that a Meilisearch upgrade that
 * changes it fails here first. Findings the design rests on:
 *  - the remote is called with exactly one request, POST <remote url>/multi-search, carrying
 *    `Authorization: Bearer <searchApiKey>` and `meili-proxy-search: true`; a path prefix in the
 *    remote's url is kept, so one loopback relay can stand for every peer (/peer/<office>);
 *  - Meilisearch cannot present a client certificate, so mutual TLS between offices is the relay's
 *    job (loopback HTTP in, mTLS out), and Meilisearch still does the merging;
 *  - the searchApiKey may be a tenant token: the remote applies its search rules, so the office that
 *    shares decides per peer what it sees (e.g. only 全辖区 items for a sibling office).
 */
interface Seen {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('Meilisearch remote federated search (the mechanism 联合检索 builds on)', () => {
  let city: MeiliHandle;
  let county: MeiliHandle;
  let relay: Server;
  let relayUrl: string;
  const seen: Seen[] = [];

  beforeAll(async () => {
    [city, county] = await Promise.all([startMeili(), startMeili()]);
    // A loopback relay standing in front of the county office, logging what reaches it.
    relay = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const target = new URL(county.conn.host);
        const fwd = request(
          { host: target.hostname, port: target.port, method: req.method, path: (req.url ?? '').replace(/^\/peer\/county/, ''), headers: { ...req.headers, host: target.host } },
          (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
          },
        );
        fwd.end(body);
      });
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}/peer/county`;
    for (const [m, office] of [
      [city, 'city'],
      [county, 'county'],
    ] as const) {
      expect((await api(m, 'PATCH', '/experimental-features', { network: true })).json.network).toBe(true);
      await api(m, 'POST', '/indexes/shared/documents', [
        { id: `${office}-1`, office, scope: '全辖区', title: `${office} 机构编制工作通知` },
        { id: `${office}-2`, office, scope: '上级', title: `${office} 编制工作报告` },
      ]);
      await api(m, 'PATCH', '/indexes/shared/settings', { filterableAttributes: ['scope'] });
    }
    await Promise.all([settled(city), settled(county)]);
  });

  afterAll(async () => {
    relay?.close();
    await Promise.all([city?.stop(), county?.stop()]);
  });

  it('calls a remote once, POST <url>/multi-search with its search key, and merges the hits', async () => {
    const key = (await api(county, 'POST', '/keys', { actions: ['search'], indexes: ['shared'], expiresAt: null })).json;
    await api(city, 'PATCH', '/network', { self: 'city', remotes: { city: { url: city.conn.host, searchApiKey: city.conn.apiKey }, county: { url: relayUrl, searchApiKey: key.key } } });
    seen.length = 0;
    const r = await api(city, 'POST', '/multi-search', {
      federation: {},
      queries: [
        { indexUid: 'shared', q: '编制工作', federationOptions: { remote: 'city' } },
        { indexUid: 'shared', q: '编制工作', federationOptions: { remote: 'county' } },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json.remoteErrors).toEqual({});
    expect(new Set(r.json.hits.map((h: { _federation: { remote: string } }) => h._federation.remote))).toEqual(new Set(['city', 'county']));
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe('/peer/county/multi-search');
    expect(seen[0].headers.authorization).toBe(`Bearer ${key.key}`);
    expect(seen[0].headers['meili-proxy-search']).toBe('true');
    const body = JSON.parse(seen[0].body);
    expect(body.queries.map((q: { indexUid: string }) => q.indexUid)).toEqual(['shared']);
  });

  it('a tenant token as the peer key: the remote applies its own filter to what the peer sees', async () => {
    const key = (await api(county, 'POST', '/keys', { actions: ['search'], indexes: ['shared'], expiresAt: null })).json;
    const token = await generateTenantToken({
      apiKey: key.key,
      apiKeyUid: key.uid,
      searchRules: { shared: { filter: 'scope = "全辖区"' } },
      expiresAt: new Date(Date.now() + 3_600_000),
      algorithm: 'HS256',
    });
    await api(city, 'PATCH', '/network', { remotes: { county: { url: relayUrl, searchApiKey: token } } });
    const r = await api(city, 'POST', '/multi-search', { federation: {}, queries: [{ indexUid: 'shared', q: '编制工作', federationOptions: { remote: 'county' } }] });
    expect(r.json.remoteErrors).toEqual({});
    expect(r.json.hits.map((h: { id: string }) => h.id)).toEqual(['county-1']); // the 上级 item stayed home
  });

  it('a remote that cannot be reached is reported per remote, not as a failed search', async () => {
    await api(city, 'PATCH', '/network', { remotes: { gone: { url: 'http://127.0.0.1:9/peer/gone', searchApiKey: 'x' } } });
    const r = await api(city, 'POST', '/multi-search', {
      federation: {},
      queries: [
        { indexUid: 'shared', q: '编制工作', federationOptions: { remote: 'city' } },
        { indexUid: 'shared', q: '编制工作', federationOptions: { remote: 'gone' } },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json.remoteErrors.gone.code).toBe('remote_could_not_send_request');
    expect(r.json.hits.length).toBe(2);
  });
});
