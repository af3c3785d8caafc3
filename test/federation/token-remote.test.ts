import { generateTenantToken } from 'meilisearch/token';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { federatedRules } from '../../search/federated-query.ts';
import { meiliApi as api, meiliSettled as settled, startMeili, type MeiliHandle } from '../search/support.ts';

/**
 * What the asking office's tenant token does to a remote query (Meilisearch 1.21), pinned: the
 * ground of federatedRules (search/federated-query.ts).
 *  - a remote query needs the token to allow its index, else the whole search is refused;
 *  - the token's filter for that index is sent along and applied by the remote;
 *  - so `shared` is allowed with `office != <self> AND classificationRank <= <clearance>`: this
 *    office's own shared index (items of every post) stays out of reach, remote hits stay within
 *    the person's clearance.
 */

describe("the asking user's tenant token and remote queries", () => {
  let city: MeiliHandle;
  let county: MeiliHandle;
  let key: { key: string; uid: string };
  const viewer = { posts: ['A'], clearance: '公开' as const };
  const token = (rules: Parameters<typeof generateTenantToken>[0]['searchRules']) =>
    generateTenantToken({ apiKey: key.key, apiKeyUid: key.uid, searchRules: rules, expiresAt: new Date(Date.now() + 3_600_000), algorithm: 'HS256' });
  const query = {
    federation: {},
    queries: [
      { indexUid: 'items', q: '编制工作' },
      { indexUid: 'shared', q: '编制工作', federationOptions: { remote: 'county' } },
    ],
  };

  beforeAll(async () => {
    [city, county] = await Promise.all([startMeili(), startMeili()]);
    for (const m of [city, county]) await api(m, 'PATCH', '/experimental-features', { network: true });
    await api(city, 'POST', '/indexes/items/documents', [{ id: 'c1', posts: ['A'], classificationRank: 0, title: '编制工作 city' }]);
    await api(city, 'PATCH', '/indexes/items/settings', { filterableAttributes: ['posts', 'classificationRank'] });
    // The city's own shared index: items of any post (none of it is the viewer's to search).
    await api(city, 'POST', '/indexes/shared/documents', [{ id: 'cs1', office: 'city', scope: 'all', classificationRank: 0, title: '编制工作 city shared' }]);
    await api(county, 'POST', '/indexes/shared/documents', [
      { id: 'k1', office: 'county', scope: 'all', classificationRank: 0, title: '编制工作 county 公开' },
      { id: 'k2', office: 'county', scope: 'all', classificationRank: 1, title: '编制工作 county 内部' },
    ]);
    for (const m of [city, county]) await api(m, 'PATCH', '/indexes/shared/settings', { filterableAttributes: ['scope', 'office', 'classificationRank'] });
    await Promise.all([settled(city), settled(county)]);
    const peerKey = (await api(county, 'POST', '/keys', { actions: ['search'], indexes: ['shared'], expiresAt: null })).json;
    await api(city, 'PATCH', '/network', { self: 'city', remotes: { city: { url: city.conn.host, searchApiKey: 'self' }, county: { url: county.conn.host, searchApiKey: peerKey.key } } });
    key = (await api(city, 'POST', '/keys', { actions: ['search'], indexes: ['items', 'pages', 'shared'], expiresAt: null })).json;
  }, 120_000);
  afterAll(async () => {
    await Promise.all([city?.stop(), county?.stop()]);
  });

  it('without a rule for shared, a remote query refuses the whole search', async () => {
    const r = await api(city, 'POST', '/multi-search', query, await token({ items: { filter: 'posts IN ["A"]' } }));
    expect(r.status).toBe(403);
    expect(r.json.code).toBe('invalid_api_key');
  });

  it("the token's filter travels to the remote (a filter on an attribute the remote lacks fails there)", async () => {
    const r = await api(city, 'POST', '/multi-search', query, await token({ items: { filter: 'posts IN ["A"]' }, shared: { filter: 'posts IN ["A"]' } }));
    expect(r.status).toBe(200);
    expect(r.json.remoteErrors.county.message).toMatch(/posts/);
  });

  it('federatedRules: remote hits within clearance, and the local shared index out of reach', async () => {
    const t = await token(federatedRules(viewer, 'city')!);
    const r = await api(city, 'POST', '/multi-search', query, t);
    expect(r.status).toBe(200);
    expect(r.json.remoteErrors).toEqual({});
    expect(r.json.hits.map((h: { id: string }) => h.id).sort()).toEqual(['c1', 'k1']);
    const local = await api(city, 'POST', '/multi-search', { queries: [{ indexUid: 'shared', q: '编制工作' }] }, t);
    expect(local.status).toBe(200);
    expect(local.json.results[0].hits).toEqual([]);
    expect(local.json.results[0].estimatedTotalHits).toBe(0);
  });
});
