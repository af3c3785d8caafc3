import { ApplianceError, parseHostPort, type Config, type MeiliConnection } from '../core/index.ts';
import { loadOrCreateIdentity, type FederationIdentity } from './identity.ts';
import { INVITATION_TTL_MS, inverse, newNonce, readSignedFile, signedFile, type OfficeCard, type Relation } from './invitation.ts';
import { createPeerKey, deletePeerKey } from './peer-keys.ts';
import { readPeers, updatePeers, type Peer } from './peers.ts';

/**
 * Joining and leaving, as the console and the web page do it (two trips of removable media):
 *   1. office A: `archive federation invite --invitee 下级 --out a.json` — signed, nothing secret;
 *   2. office B: `archive federation join a.json --out b.json` — B pins A's certificate, makes A's
 *      key, and writes a signed reply;
 *   3. office A: `archive federation join b.json` — A checks it answers its own invitation, pins
 *      B's certificate and makes B's key.
 * From then on each side's relay fetches its token for the other over mutual TLS (endpoint.ts).
 */
export interface OfficeIdentity {
  code: string;
  name: string;
}

export function officeOf(cfg: Pick<Config, 'office'>): OfficeIdentity {
  const { code, name } = cfg.office;
  if (!code || !name)
    throw new ApplianceError(
      'OFFICE_NOT_CONFIGURED',
      '尚未设置本单位代码和名称（office.code / office.name，或 ARCHIVE_OFFICE_CODE / ARCHIVE_OFFICE_NAME）。',
      'office.code and office.name are not set',
    );
  return { code, name };
}

function federationAddr(cfg: Pick<Config, 'federation'>): string {
  if (!cfg.federation.addr)
    throw new ApplianceError('FEDERATION_NOT_CONFIGURED', '尚未设置联合检索地址（federation.addr 或 ARCHIVE_FEDERATION_ADDR，形如 10.1.2.3:7443）。', 'federation.addr is not set');
  return cfg.federation.addr;
}

export async function federationIdentity(cfg: Pick<Config, 'dataDir' | 'office' | 'federation'>): Promise<FederationIdentity> {
  return loadOrCreateIdentity(cfg.dataDir, officeOf(cfg).code, parseHostPort(federationAddr(cfg)).host);
}

function card(cfg: Pick<Config, 'office' | 'federation'>, id: FederationIdentity): OfficeCard {
  const o = officeOf(cfg);
  return { code: o.code, name: o.name, addr: federationAddr(cfg), cert: id.cert };
}

/** Step 1: a signed invitation for an office that will be `invitee` to this one. */
export async function invite(cfg: Pick<Config, 'dataDir' | 'office' | 'federation'>, invitee: Relation, now = new Date()): Promise<{ file: string; nonce: string; fingerprint: string }> {
  const id = await federationIdentity(cfg);
  const nonce = newNonce();
  const expiresAt = new Date(now.getTime() + INVITATION_TTL_MS).toISOString();
  const file = signedFile({ kind: 'invitation', nonce, createdAt: now.toISOString(), expiresAt, from: card(cfg, id), invitee }, id);
  await updatePeers(cfg.dataDir, (f) => {
    f.invitations = f.invitations.filter((i) => Date.parse(i.expiresAt) > now.getTime());
    f.invitations.push({ nonce, invitee, createdAt: now.toISOString(), expiresAt });
  });
  return { file, nonce, fingerprint: id.fingerprint };
}

export interface JoinResult {
  peer: Omit<Peer, 'key' | 'cert'>;
  /** Step 2 only: the reply to carry back to the inviter. */
  reply?: string;
  ownFingerprint: string;
}

function publicPeer(p: Peer): Omit<Peer, 'key' | 'cert'> {
  const { key: _k, cert: _c, ...rest } = p;
  return rest;
}

/**
 * Step 2 (an invitation) or step 3 (a reply): verify the file, pin the other office, make its key.
 * A refused file changes nothing (no key, no peer, no reply).
 */
export async function join(cfg: Pick<Config, 'dataDir' | 'office' | 'federation'>, conn: MeiliConnection, raw: Buffer, now = new Date()): Promise<JoinResult> {
  const id = await federationIdentity(cfg);
  const own = officeOf(cfg);
  const { body, fingerprint } = readSignedFile(raw, now);
  if (body.from.code === own.code || fingerprint === id.fingerprint)
    throw new ApplianceError('FEDERATION_JOIN_SELF', '这是本单位自己签发的文件，不能加入自己。', 'the file was made by this office itself');
  return updatePeers(cfg.dataDir, async (f) => {
    const same = f.peers.find((p) => p.code === body.from.code);
    if (same)
      throw new ApplianceError(
        'FEDERATION_PEER_EXISTS',
        `单位 ${body.from.code}（${same.name}）已经加入；如需更换其证书或关系，请先执行 archive federation remove ${body.from.code}。`,
        `office ${body.from.code} is already joined`,
        { status: 409 },
      );
    if (f.peers.some((p) => p.fingerprint === fingerprint))
      throw new ApplianceError('FEDERATION_PEER_EXISTS', '该证书已属于另一个已加入的单位。', 'certificate already pinned for another office', { status: 409 });
    let relation: Relation;
    if (body.kind === 'invitation') {
      relation = inverse(body.invitee);
    } else {
      const pending = f.invitations.find((i) => i.nonce === body.nonce);
      if (!pending || Date.parse(pending.expiresAt) < now.getTime())
        throw new ApplianceError(
          'FEDERATION_REPLY_UNKNOWN',
          '该回执不对应本单位发出且仍有效的邀请（邀请已用过、已过期或不是本机发出的）。',
          'reply does not answer a pending invitation of this office',
        );
      if (body.to.code !== own.code || body.to.fingerprint !== id.fingerprint)
        throw new ApplianceError('FEDERATION_REPLY_UNKNOWN', '该回执是给另一个单位的，未做任何更改。', 'reply is addressed to another office');
      if (body.inviter !== inverse(pending.invitee))
        throw new ApplianceError('FEDERATION_INVITATION_INVALID', '回执中的上下级关系与本单位的邀请不符，未做任何更改。', 'reply relation does not match the invitation');
      relation = pending.invitee;
      f.invitations = f.invitations.filter((i) => i.nonce !== body.nonce);
    }
    const key = await createPeerKey(conn, body.from.code);
    const peer: Peer = {
      code: body.from.code,
      name: body.from.name,
      addr: body.from.addr,
      cert: body.from.cert,
      fingerprint,
      relation,
      keyUid: key.keyUid,
      key: key.key,
      joinedAt: now.toISOString(),
    };
    f.peers.push(peer);
    const reply =
      body.kind === 'invitation'
        ? signedFile({ kind: 'reply', nonce: body.nonce, createdAt: now.toISOString(), from: card(cfg, id), to: { code: body.from.code, fingerprint }, inviter: relation }, id)
        : undefined;
    return { peer: publicPeer(peer), reply, ownFingerprint: id.fingerprint };
  });
}

/** Leave an office: its key is deleted first (its searches fail from this moment), then it is unpinned. */
export async function removePeer(dataDir: string, conn: MeiliConnection, code: string): Promise<Omit<Peer, 'key' | 'cert'>> {
  return updatePeers(dataDir, async (f) => {
    const peer = f.peers.find((p) => p.code === code);
    if (!peer) throw new ApplianceError('FEDERATION_PEER_UNKNOWN', `没有已加入的单位 ${code}。`, `no joined office ${code}`, { status: 404 });
    await deletePeerKey(conn, peer.keyUid);
    f.peers = f.peers.filter((p) => p.code !== code);
    return publicPeer(peer);
  });
}

export async function listPeers(dataDir: string): Promise<{ peers: Array<Omit<Peer, 'key' | 'cert'>>; invitations: Array<{ invitee: Relation; createdAt: string; expiresAt: string }> }> {
  const f = await readPeers(dataDir);
  return { peers: f.peers.map(publicPeer), invitations: f.invitations.map(({ invitee, createdAt, expiresAt }) => ({ invitee, createdAt, expiresAt })) };
}
