import { createPrivateKey, randomBytes, sign, verify, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { ApplianceError, OFFICE_CODE_RE } from '../core/index.ts';
import type { FederationIdentity } from './identity.ts';

/**
 * Invitation and reply files (docs/FORMATS.md, 联合检索 invitations): what two offices exchange on
 * removable media to join. Both carry only public material — office code and name, federation
 * address, the office's certificate, the relation — and a signature by the certificate's key over
 * the canonical JSON of the body, so a file changed on its way (another address, another
 * certificate, another relation) is refused. No secret is on the medium: each side's search token
 * is handed over later inside the mutually authenticated TLS channel, to the pinned certificate only.
 *
 * The signature proves the file was not changed after the office with that certificate made it;
 * that the certificate is really the other office's is what the medium's courier and the printed
 * fingerprint (compare it by telephone) establish.
 */

/** What the peer is to this office: its 上级, its 下级 or a 平级 office. */
export type Relation = 'parent' | 'child' | 'peer';
export const RELATIONS: readonly Relation[] = ['parent', 'child', 'peer'];
export const RELATION_ZH: Record<Relation, string> = { parent: '上级', child: '下级', peer: '平级' };

export function inverse(r: Relation): Relation {
  return r === 'parent' ? 'child' : r === 'child' ? 'parent' : 'peer';
}

/** 上级/下级/平级 or parent/child/peer. */
export function parseRelation(s: string): Relation {
  const t = s.trim();
  for (const r of RELATIONS) if (t === r || t === RELATION_ZH[r]) return r;
  throw new ApplianceError('FEDERATION_RELATION_INVALID', `关系须为 上级、下级 或 平级（收到“${s}”）。`, `relation must be parent, child or peer (got ${s})`);
}

export const INVITATION_FORMAT = 'archive-federation-invitation';
export const INVITATION_VERSION = 1;
/** An invitation is good for this long after it was written. */
export const INVITATION_TTL_MS = 30 * 86_400_000;
const MAX_FILE_BYTES = 64 * 1024;

const officeSchema = z
  .object({
    code: z.string().regex(OFFICE_CODE_RE),
    name: z.string().min(1).max(64),
    /** The federation endpoint, HOST:PORT, on the intranet. */
    addr: z.string().regex(/^[^\s:/]+:\d{1,5}$/),
    cert: z.string().min(100).max(8192),
  })
  .strict();

const bodySchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('invitation'),
      /** Single use: the reply names it, and the inviter accepts one reply per nonce. */
      nonce: z.string().regex(/^[0-9a-f]{32}$/),
      createdAt: z.string(),
      expiresAt: z.string(),
      from: officeSchema,
      /** What the invitee will be to the inviter (the inviter is then the inverse to the invitee). */
      invitee: z.enum(['parent', 'child', 'peer']),
    })
    .strict(),
  z
    .object({
      kind: z.literal('reply'),
      nonce: z.string().regex(/^[0-9a-f]{32}$/),
      createdAt: z.string(),
      from: officeSchema,
      /** The inviter, by code and certificate fingerprint: a reply is good only there. */
      to: z.object({ code: z.string().regex(OFFICE_CODE_RE), fingerprint: z.string().regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/) }).strict(),
      /** What the inviter is to the replying office (echoes the invitation, inverted). */
      inviter: z.enum(['parent', 'child', 'peer']),
    })
    .strict(),
]);

export type InvitationBody = z.infer<typeof bodySchema>;
export type OfficeCard = z.infer<typeof officeSchema>;

const fileSchema = z
  .object({
    format: z.literal(INVITATION_FORMAT),
    formatVersion: z.literal(INVITATION_VERSION),
    body: z.unknown(),
    /** ECDSA P-256 / SHA-256 (DER, base64) over canonicalJson(body) by the key of body.from.cert. */
    signature: z.string().max(512),
  })
  .strict();

/** JSON with object keys sorted at every level: what is signed does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

export function signedFile(body: InvitationBody, id: FederationIdentity): string {
  const signature = sign('sha256', Buffer.from(canonicalJson(body)), createPrivateKey(id.key)).toString('base64');
  return `${JSON.stringify({ format: INVITATION_FORMAT, formatVersion: INVITATION_VERSION, body, signature }, null, 2)}\n`;
}

const refuse = (why: string, en: string) =>
  new ApplianceError('FEDERATION_INVITATION_INVALID', `邀请文件无效，未做任何更改：${why}`, `invitation file refused, nothing changed: ${en}`, { details: { reason: en } });

/**
 * Read and check an invitation or reply file: format, size, shape, a certificate that parses and
 * is within its validity, the signature by that certificate's key, and (invitations) not expired.
 */
export function readSignedFile(raw: Buffer | string, now = new Date()): { body: InvitationBody; fingerprint: string } {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  if (bytes.length > MAX_FILE_BYTES) throw refuse('文件过大', 'file too large');
  let file: z.infer<typeof fileSchema>;
  try {
    file = fileSchema.parse(JSON.parse(bytes.toString('utf8')));
  } catch {
    throw refuse('不是联合检索邀请文件或格式版本不支持', 'not an invitation file of a supported version');
  }
  const parsed = bodySchema.safeParse(file.body);
  if (!parsed.success) throw refuse('内容不完整或含未知字段', `body: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  const body = parsed.data;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(body.from.cert);
  } catch {
    throw refuse('证书无法解析', 'certificate does not parse');
  }
  if (Date.parse(cert.validFrom) > now.getTime() || Date.parse(cert.validTo) < now.getTime()) throw refuse('证书不在有效期内', 'certificate outside its validity');
  if (!cert.verify(cert.publicKey)) throw refuse('证书不是自签名证书', 'certificate is not self-signed');
  let ok = false;
  try {
    ok = verify('sha256', Buffer.from(canonicalJson(body)), cert.publicKey, Buffer.from(file.signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw refuse('签名不符（文件在签发后被改动过，或不是该证书签发的）', 'signature does not verify (altered after signing)');
  if (body.kind === 'invitation' && Date.parse(body.expiresAt) < now.getTime()) throw refuse(`邀请已于 ${body.expiresAt} 过期，请对方重新签发`, 'invitation expired');
  return { body, fingerprint: cert.fingerprint256 };
}

/** Check a file as `join` will (signature, shape, expiry) without touching anything; its kind. */
export function checkInvitationFile(raw: Buffer): InvitationBody['kind'] {
  return readSignedFile(raw).body.kind;
}
