import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callPeer } from '../../federation/relay.ts';
import type { FederationIdentity } from '../../federation/identity.ts';
import { cleanup, tempDir } from '../support/appliance.ts';
import { startWebAppliance } from '../support/web-appliance.ts';
import { federated, makeOffice, mtls, putShared, type Office } from './support.ts';

/**
 * 联合检索's transport between real appliances' parts on one machine (loopback): a city office and
 * two county offices joined with signed invitations through the console, each with its own data
 * dir, Meilisearch, federation endpoint and relay. Attacks the endpoint (routes, indexes, remote
 * fields, certificates, keys), a tampered invitation, a removed peer and a stopped or slow one.
 */
describe('federation transport: invitations, mutual TLS endpoint, relay', () => {
  let root: string;
  let city: Office;
  let county1: Office;
  let county2: Office;
  let ids: Record<string, FederationIdentity>;

  const hits = (r: { json: any }) => (r.json.hits as Array<{ id: string; _federation: { remote: string } }>).map((h) => `${h._federation.remote}:${h.id}`).sort();

  beforeAll(async () => {
    root = await tempDir('archive-fed-');
    city = await makeOffice(join(root, 'city'), 'CITY', '市编办');
    county1 = await makeOffice(join(root, 'c1'), 'COUNTY1', '一县编办');
    county2 = await makeOffice(join(root, 'c2'), 'COUNTY2', '二县编办');
  });
  afterAll(async () => {
    for (const o of [city, county1, county2]) await o?.stop().catch(() => undefined);
    await cleanup(root);
  });

  it('invite → join (reply) → join: both sides pinned, with the relation each way; list shows it', async () => {
    for (const [o, invitee] of [
      [county1, '下级'],
      [county2, '下级'],
    ] as const) {
      const inv = join(root, `${o.code}.invite.json`);
      const reply = join(root, `${o.code}.reply.json`);
      const i = await city.cli(['federation', 'invite', '--invitee', invitee, '--out', inv]);
      expect(i.code, i.err).toBe(0);
      expect(i.out).toMatch(/本单位证书指纹：([0-9A-F]{2}:){31}[0-9A-F]{2}/);
      // Nothing secret on the medium: certificates, addresses, relation, signature.
      const text = await readFile(inv, 'utf8');
      expect(text).not.toMatch(/PRIVATE KEY|"key"|"token"/);
      const j = await o.cli(['federation', 'join', inv, '--out', reply]);
      expect(j.code, j.err).toBe(0);
      expect(j.out).toContain('已加入单位 CITY 市编办（对方为本单位的上级');
      const back = await city.cli(['federation', 'join', reply]);
      expect(back.code, back.err).toBe(0);
      expect(back.out).toContain(`已加入单位 ${o.code}`);
      // The reply is single use.
      const again = await city.cli(['federation', 'join', reply]);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/FEDERATION_PEER_EXISTS|FEDERATION_REPLY_UNKNOWN/);
    }
    const list = JSON.parse((await city.cli(['--json', 'federation', 'list'])).out);
    expect(list.peers.map((p: { code: string; relation: string }) => `${p.code}:${p.relation}`).sort()).toEqual(['COUNTY1:child', 'COUNTY2:child']);
    expect(list.invitations).toEqual([]);
    expect(JSON.stringify(list)).not.toContain('"key"');
    const l1 = JSON.parse((await county1.cli(['--json', 'federation', 'list'])).out);
    expect(l1.peers.map((p: { code: string; relation: string }) => `${p.code}:${p.relation}`)).toEqual(['CITY:parent']);
    ids = { CITY: await city.identity(), COUNTY1: await county1.identity(), COUNTY2: await county2.identity() };
    expect(l1.peers[0].fingerprint).toBe(ids.CITY.fingerprint);
    expect((await city.audit()).filter((r) => r.action.startsWith('federation.')).map((r) => `${r.action}:${r.outcome}`)).toEqual([
      'federation.invite:success',
      'federation.join:success',
      'federation.join:failure',
      'federation.invite:success',
      'federation.join:success',
      'federation.join:failure',
    ]);
  }, 300_000);

  it('a tampered invitation is refused with a clear Chinese error and changes nothing', async () => {
    const inv = join(root, 'tamper.invite.json');
    expect((await city.cli(['federation', 'invite', '--invitee', '平级', '--out', inv])).code).toBe(0);
    const original = JSON.parse(await readFile(inv, 'utf8'));
    const spare = await makeOffice(join(root, 'spare'), 'SPARE', '备用单位');
    for (const [what, change] of [
      ['address', (f: any) => (f.body.from.addr = '10.9.9.9:7443')],
      ['relation', (f: any) => (f.body.invitee = 'parent')],
      ['certificate', (f: any) => (f.body.from.cert = ids.COUNTY1.cert)],
      ['signature', (f: any) => (f.signature = Buffer.from('forged').toString('base64'))],
    ] as const) {
      const f = structuredClone(original);
      change(f);
      const path = join(root, `tampered-${what}.json`);
      await writeFile(path, JSON.stringify(f));
      const r = await spare.cli(['federation', 'join', path, '--out', join(root, `never-${what}.json`)]);
      expect(r.code, what).toBe(1);
      expect(r.err, what).toContain('错误 [FEDERATION_INVITATION_INVALID]：邀请文件无效，未做任何更改');
      await expect(readFile(join(root, `never-${what}.json`))).rejects.toThrow();
    }
    const l = JSON.parse((await spare.cli(['--json', 'federation', 'list'])).out);
    expect(l.peers).toEqual([]);
  }, 300_000);

  describe('running', () => {
    beforeAll(async () => {
      await Promise.all([city.start(), county1.start(), county2.start({ timeoutMs: 2_000 })]);
      for (const o of [city, county1, county2])
        await putShared(o, [
          { id: `${o.code}-all`, scope: 'all', title: `${o.name} 机构编制 通知` },
          { id: `${o.code}-parent`, scope: 'parent', title: `${o.name} 机构编制 报告` },
        ]);
    });

    it('Meilisearch merges the offices: the city (上级) sees 上级 and 全辖区 items, a county only 全辖区 ones', async () => {
      const net = await city.api('GET', '/network');
      expect(net.json.self).toBe('CITY');
      expect(Object.keys(net.json.remotes).sort()).toEqual(['CITY', 'COUNTY1', 'COUNTY2']);
      expect(net.json.remotes.COUNTY1.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/peer\/COUNTY1$/);
      const r = await federated(city, '机构编制');
      expect(r.status).toBe(200);
      expect(r.json.remoteErrors).toEqual({});
      expect(hits(r)).toEqual(['CITY:CITY-all', 'CITY:CITY-parent', 'COUNTY1:COUNTY1-all', 'COUNTY1:COUNTY1-parent', 'COUNTY2:COUNTY2-all', 'COUNTY2:COUNTY2-parent']);
      const r1 = await federated(county1, '机构编制');
      expect(r1.json.remoteErrors).toEqual({});
      expect(hits(r1)).toEqual(['CITY:CITY-all', 'COUNTY1:COUNTY1-all', 'COUNTY1:COUNTY1-parent']);
      // The city's state of its peers: reachable, answered, how many documents each lets it see.
      // (The count is refreshed beside the searches, never on their path: it comes with a later answer.)
      await expect.poll(async () => (await federated(city, '机构编制'), city.fed!.peerStates().find((p) => p.code === 'COUNTY1')?.documentsShared)).toBe(2);
      const s = city.fed!.peerStates().find((p) => p.code === 'COUNTY1')!;
      expect(s).toMatchObject({ reachable: true, documentsShared: 2, relation: 'child' });
      expect(Date.parse(s.lastAnswerAt!)).toBeGreaterThan(Date.now() - 60_000);
      await expect.poll(async () => (await federated(county1, '机构编制'), county1.fed!.peerStates()[0].documentsShared)).toBe(1);
      expect(county1.fed!.peerStates()[0]).toMatchObject({ code: 'CITY', reachable: true });
      // Answering side's audit: the asking office and the query.
      const answered = (await county1.audit()).filter((x) => x.action === 'federation.search.answer');
      expect(answered.at(-1)).toMatchObject({ actor: 'office:CITY', outcome: 'success', details: { office: 'CITY', q: '机构编制' } });
    });

    it('the endpoint refuses every route but the shared search, even for a joined office', async () => {
      const me = ids.COUNTY1;
      const token = (await mtls(city, ids.CITY.cert, me, 'POST', '/federation/credential', {})).json.token as string;
      expect(token).toMatch(/^ey/);
      const auth = { authorization: `Bearer ${token}` };
      const before = (await city.api('GET', '/indexes/shared/stats')).json.numberOfDocuments;
      for (const [method, path, body] of [
        ['GET', '/indexes', undefined],
        ['GET', '/indexes/shared/documents', undefined],
        ['POST', '/indexes/shared/documents', [{ id: 'evil', scope: 'all', title: 'x' }]],
        ['DELETE', '/indexes/shared', undefined],
        ['PATCH', '/indexes/shared/settings', { filterableAttributes: [] }],
        ['GET', '/indexes/shared/settings', undefined],
        ['POST', '/indexes/shared/search', { q: '' }],
        ['POST', '/indexes/items/search', { q: '' }],
        ['GET', '/keys', undefined],
        ['POST', '/keys', { actions: ['*'], indexes: ['*'], expiresAt: null }],
        ['GET', '/tasks', undefined],
        ['GET', '/stats', undefined],
        ['GET', '/network', undefined],
        ['PATCH', '/network', { remotes: {} }],
        ['GET', '/multi-search', undefined],
        ['POST', '/multi-search/../keys', {}],
      ] as const) {
        const r = await mtls(city, ids.CITY.cert, me, method, path, body, auth);
        expect([403, 404], `${method} ${path}`).toContain(r.status);
        expect(r.json.code, `${method} ${path}`).toBe('federation_route_refused');
      }
      for (const [what, body] of [
        ['another index', { queries: [{ indexUid: 'items', q: '' }] }],
        [
          'a second query on another index',
          {
            federation: {},
            queries: [
              { indexUid: 'shared', q: '' },
              { indexUid: 'pages', q: '' },
            ],
          },
        ],
        ['a remote of its own', { federation: {}, queries: [{ indexUid: 'shared', q: '', federationOptions: { remote: 'COUNTY2' } }] }],
        ['facets of another index', { federation: { facetsByIndex: { items: ['posts'] } }, queries: [{ indexUid: 'shared', q: '' }] }],
        ['unknown federation field', { federation: { merge: true }, queries: [{ indexUid: 'shared', q: '' }] }],
        ['unknown top field', { queries: [{ indexUid: 'shared', q: '' }], remotes: {} }],
        ['a vector', { queries: [{ indexUid: 'shared', q: '', vector: [1, 2] }] }],
        ['not JSON', '{"queries": ['],
      ] as const) {
        const r = await mtls(city, ids.CITY.cert, me, 'POST', '/multi-search', body, auth);
        expect(r.status, what).toBe(400);
      }
      const big = await mtls(city, ids.CITY.cert, me, 'POST', '/multi-search', { queries: [{ indexUid: 'shared', q: 'x'.repeat(300_000) }] }, auth).catch((e: Error) => ({ status: e.message }));
      expect([413, 'socket hang up', 'write EPIPE', 'read ECONNRESET']).toContain(big.status);
      expect((await city.api('GET', '/indexes/shared/stats')).json.numberOfDocuments).toBe(before);
      // The plain search it may make, with its own token, sees only what the city shares with a 下级.
      const ok = await mtls(city, ids.CITY.cert, me, 'POST', '/multi-search', { federation: {}, queries: [{ indexUid: 'shared', q: '机构编制' }] }, auth);
      expect(ok.status).toBe(200);
      expect(ok.json.hits.map((h: { id: string }) => h.id)).toEqual(['CITY-all']);
      const denied = (await city.audit()).filter((x) => x.action === 'federation.endpoint.deny');
      expect(denied.length).toBeGreaterThanOrEqual(20);
      expect(denied[0]).toMatchObject({ actor: 'office:COUNTY1', outcome: 'denied' });
    });

    it('refuses a client without a certificate, with an unjoined office’s certificate, and another office’s key', async () => {
      const search = { federation: {}, queries: [{ indexUid: 'shared', q: '机构编制' }] };
      await expect(mtls(city, ids.CITY.cert, undefined, 'POST', '/multi-search', search)).rejects.toThrow(/certificate required|alert|hang up|ECONNRESET/);
      // COUNTY2 is joined with the city, not with COUNTY1: the handshake at COUNTY1 refuses it.
      await expect(mtls(county1, ids.COUNTY1.cert, ids.COUNTY2, 'POST', '/multi-search', search)).rejects.toThrow(/unknown ca|alert|hang up|ECONNRESET|certificate/);
      // A certificate made by someone else for the same office code.
      const { loadOrCreateIdentity } = await import('../../federation/identity.ts');
      const forged = await loadOrCreateIdentity(join(root, 'forger'), 'COUNTY2', '127.0.0.1');
      await expect(mtls(city, ids.CITY.cert, forged, 'POST', '/federation/credential', {})).rejects.toThrow(/unknown ca|alert|hang up|ECONNRESET|certificate/);
      // COUNTY1's certificate with the token the city gave COUNTY2 (a 下级 too, but not this office).
      const t2 = (await mtls(city, ids.CITY.cert, ids.COUNTY2, 'POST', '/federation/credential', {})).json.token as string;
      const r = await mtls(city, ids.CITY.cert, ids.COUNTY1, 'POST', '/multi-search', search, { authorization: `Bearer ${t2}` });
      expect(r.status).toBe(403);
      expect(r.json.code).toBe('invalid_api_key');
      // The relay accepts only the caller that knows its per-start secret (this appliance's Meilisearch).
      const relayUrl = (await city.api('GET', '/network')).json.remotes.COUNTY1.url as string;
      const viaRelay = await fetch(`${relayUrl}/multi-search`, { method: 'POST', headers: { authorization: 'Bearer guess', 'content-type': 'application/json' }, body: JSON.stringify(search) });
      expect(viaRelay.status).toBe(403);
    });

    it('a stopped peer, a peer that never answers and an impostor at its address are named in remoteErrors; the search still answers, Meilisearch does not retry', async () => {
      await county2.stopFederation();
      const r = await federated(city, '机构编制');
      expect(r.status).toBe(200);
      expect(Object.keys(r.json.remoteErrors)).toEqual(['COUNTY2']);
      expect(r.json.remoteErrors.COUNTY2.message).toContain('federation_peer_unreachable');
      expect(hits(r).filter((h) => h.startsWith('COUNTY1:'))).toHaveLength(2);
      expect(city.fed!.peerStates().find((p) => p.code === 'COUNTY2')).toMatchObject({ reachable: false });
      // A county that accepts the connection and then never answers.
      let seen = 0;
      const [host, port] = county2.addr.split(':');
      const hang: Server = createServer({ key: ids.COUNTY2.key, cert: ids.COUNTY2.cert, requestCert: true, rejectUnauthorized: false }, () => {
        seen += 1;
      });
      await new Promise<void>((res) => hang.listen(Number(port), host, res));
      try {
        const slow = await federated(city, '机构编制');
        expect(slow.status).toBe(200);
        expect(slow.json.remoteErrors.COUNTY2.message).toContain('federation_peer_timeout');
        expect(hits(slow).filter((h) => h.startsWith('COUNTY1:'))).toHaveLength(2);
        expect(seen).toBe(1);
      } finally {
        hang.closeAllConnections();
        await new Promise((res) => hang.close(res));
      }
      // An impostor at the county's address, with a certificate of its own for the same office code,
      // answering with hits of its own: the relay's pin refuses it before anything is sent.
      const { loadOrCreateIdentity } = await import('../../federation/identity.ts');
      const impostorId = await loadOrCreateIdentity(join(root, 'impostor'), 'COUNTY2', '127.0.0.1');
      let impostorRequests = 0;
      const impostor: Server = createServer({ key: impostorId.key, cert: impostorId.cert, requestCert: true, rejectUnauthorized: false }, (_req, res) => {
        impostorRequests += 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            hits: [{ id: 'FAKE', _federation: { indexUid: 'shared', queriesPosition: 0, weightedRankingScore: 1 } }],
            processingTimeMs: 0,
            limit: 20,
            offset: 0,
            estimatedTotalHits: 1,
          }),
        );
      });
      await new Promise<void>((res) => impostor.listen(Number(port), host, res));
      try {
        const faked = await federated(city, '机构编制');
        expect(faked.status).toBe(200);
        expect(Object.keys(faked.json.remoteErrors)).toEqual(['COUNTY2']);
        expect(hits(faked).some((h) => h.includes('FAKE'))).toBe(false);
        expect(impostorRequests).toBe(0);
      } finally {
        impostor.closeAllConnections();
        await new Promise((res) => impostor.close(res));
      }
      await county2.start({ timeoutMs: 2_000 });
      expect((await federated(city, '机构编制')).json.remoteErrors).toEqual({});
    });

    it('a Meilisearch database rebuilt without the peer keys (restore, reindex): keys come back at start, peers fetch new tokens', async () => {
      const peersFile = JSON.parse(await readFile(join(city.dir, 'config', 'federation', 'peers.json'), 'utf8')) as { peers: Array<{ code: string; keyUid: string }> };
      for (const p of peersFile.peers) expect((await city.api('DELETE', `/keys/${p.keyUid}`)).status).toBe(204);
      await city.stopFederation();
      await city.start();
      for (const p of peersFile.peers) expect((await city.api('GET', `/keys/${p.keyUid}`)).json.actions).toEqual(['search']);
      const r1 = await federated(county1, '机构编制');
      expect(r1.json.remoteErrors).toEqual({});
      expect(hits(r1)).toContain('CITY:CITY-all');
    });

    it('a removed peer: its key stops working at once, then its certificate; it leaves /network', async () => {
      const search = { federation: {}, queries: [{ indexUid: 'shared', q: '机构编制' }] };
      const token = (await mtls(city, ids.CITY.cert, ids.COUNTY1, 'POST', '/federation/credential', {})).json.token as string;
      expect((await mtls(city, ids.CITY.cert, ids.COUNTY1, 'POST', '/multi-search', search, { authorization: `Bearer ${token}` })).status).toBe(200);
      // What the console's `archive federation remove` does, while the appliance runs.
      const { removePeer } = await import('../../federation/index.ts');
      await removePeer(city.dir, city.meili!.conn, 'COUNTY1');
      // No reload yet: the key is already gone.
      const after = await mtls(city, ids.CITY.cert, ids.COUNTY1, 'POST', '/multi-search', search, { authorization: `Bearer ${token}` }).catch((e: Error) => ({ status: e.message, json: {} }));
      expect(after.status).not.toBe(200);
      // The running appliance follows peers.json: /network without it, the handshake refuses it.
      await expect.poll(async () => Object.keys((await city.api('GET', '/network')).json.remotes).sort()).toEqual(['CITY', 'COUNTY2']);
      await expect(mtls(city, ids.CITY.cert, ids.COUNTY1, 'POST', '/multi-search', search, { authorization: `Bearer ${token}` })).rejects.toThrow();
      // From the county's side the city's answers are now refused and named.
      const r1 = await federated(county1, '机构编制');
      expect(Object.keys(r1.json.remoteErrors)).toEqual(['CITY']);
      expect(hits(r1).every((h) => h.startsWith('COUNTY1:'))).toBe(true);
    });

    it('the 系统管理员 page: peers with their state, removal revokes the key; nobody else may see or remove', async () => {
      const w = await startWebAppliance({ web: { federationPeers: city.fed } });
      try {
        await w.addUser('xitong', ['sysadmin']);
        await w.addUser('anquan', ['secadmin']);
        await w.addUser('chayue', ['staff']);
        const admin = await w.login('xitong');
        await expect.poll(async () => (await federated(city, '机构编制'), city.fed!.peerStates().find((p) => p.code === 'COUNTY2')?.documentsShared)).toBe(2);
        const r = await admin.req('GET', '/api/admin/federation');
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ enabled: true, office: { code: 'CITY', name: '市编办' }, peers: [{ code: 'COUNTY2', relation: 'child', reachable: true, documentsShared: 2 }] });
        expect(JSON.stringify(r.body)).not.toMatch(/"key"|BEGIN/);
        for (const u of ['anquan', 'chayue']) {
          const c = await w.login(u);
          expect((await c.req('GET', '/api/admin/federation')).status, u).toBe(403);
          expect((await c.req('DELETE', '/api/admin/federation/peers/COUNTY2')).status, u).toBe(403);
        }
        expect(city.fed!.activeRemotes()).toEqual(['COUNTY2']);
        const token = (await mtls(city, ids.CITY.cert, ids.COUNTY2, 'POST', '/federation/credential', {})).json.token as string;
        expect((await admin.req('DELETE', '/api/admin/federation/peers/COUNTY2')).status).toBe(200);
        expect(city.fed!.activeRemotes()).toEqual([]);
        expect((await city.api('POST', '/multi-search', { queries: [{ indexUid: 'shared', q: '' }] }, token)).status).toBe(403);
        expect((await w.audit()).filter((a) => a.action.startsWith('federation.')).map((a) => `${a.actor}:${a.action}:${a.outcome}`)).toEqual([
          'xitong:federation.peers.view:success',
          'xitong:federation.remove:success',
        ]);
      } finally {
        await w.close();
      }
    });

    it('the console removes a peer while nothing runs', async () => {
      await Promise.all([city.stop(), county1.stop(), county2.stop()]);
      const r = await county1.cli(['federation', 'remove', 'CITY']);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('已移除单位 CITY');
      expect(JSON.parse((await county1.cli(['--json', 'federation', 'list'])).out).peers).toEqual([]);
      const unknown = await city.cli(['federation', 'remove', 'NOPE']);
      expect(unknown.code).toBe(1);
      expect(unknown.err).toContain('FEDERATION_PEER_UNKNOWN');
    }, 120_000);
  });
});
