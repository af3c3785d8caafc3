import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ApplianceError, OFFICE_CODE_RE, withFileLock, writeFileAtomic } from '../core/index.ts';
import { federationDir } from './identity.ts';
import type { Relation } from './invitation.ts';

/**
 * data/config/federation/peers.json (0600; docs/FORMATS.md): the offices this one is joined with,
 * each with its pinned certificate and the Meilisearch key made for it, and the invitations it has
 * written and not yet seen answered. Written by the console (`archive federation …`) and the web
 * page under a file lock; the running appliance watches it and follows (TLS context, /network).
 */
export interface Peer {
  code: string;
  name: string;
  /** Its federation endpoint, HOST:PORT. */
  addr: string;
  /** Its certificate (PEM), pinned: only this certificate is accepted for this office. */
  cert: string;
  fingerprint: string;
  /** What the peer is to this office. */
  relation: Relation;
  /** The Meilisearch API key made for this peer (search, index `shared` only); signs its tenant token. */
  keyUid: string;
  key: string;
  joinedAt: string;
}

export interface PendingInvitation {
  nonce: string;
  invitee: Relation;
  createdAt: string;
  expiresAt: string;
}

export interface PeersFile {
  formatVersion: 1;
  peers: Peer[];
  invitations: PendingInvitation[];
}

const relation = z.enum(['parent', 'child', 'peer']);
const schema = z
  .object({
    formatVersion: z.literal(1),
    peers: z.array(
      z
        .object({
          code: z.string().regex(OFFICE_CODE_RE),
          name: z.string(),
          addr: z.string(),
          cert: z.string(),
          fingerprint: z.string(),
          relation,
          keyUid: z.string(),
          key: z.string(),
          joinedAt: z.string(),
        })
        .strict(),
    ),
    invitations: z.array(z.object({ nonce: z.string(), invitee: relation, createdAt: z.string(), expiresAt: z.string() }).strict()),
  })
  .strict();

export function peersPath(dataDir: string): string {
  return join(federationDir(dataDir), 'peers.json');
}

export async function readPeers(dataDir: string): Promise<PeersFile> {
  const path = peersPath(dataDir);
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { formatVersion: 1, peers: [], invitations: [] };
    throw e;
  }
  const parsed = schema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new ApplianceError('FEDERATION_PEERS_INVALID', `联合检索单位文件内容无效：${path}`, `invalid peers file ${path}`, { status: 500 });
  return parsed.data;
}

/** Read, change and write peers.json under its lock; the change sees the current file. */
export async function updatePeers<T>(dataDir: string, change: (f: PeersFile) => Promise<T> | T): Promise<T> {
  const path = peersPath(dataDir);
  return withFileLock(`${path}.lock`, async () => {
    const f = await readPeers(dataDir);
    const out = await change(f);
    await writeFileAtomic(path, `${JSON.stringify(f, null, 2)}\n`, 0o600);
    return out;
  });
}

/** A cheap change marker for the watcher (mtime and size; the file is replaced atomically). */
export async function peersStamp(dataDir: string): Promise<string> {
  const s = await stat(peersPath(dataDir)).catch(() => undefined);
  return s ? `${s.mtimeMs}:${s.size}:${s.ino}` : 'none';
}
