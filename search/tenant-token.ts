import { generateTenantToken } from 'meilisearch/token';
import { classificationRank, type Viewer } from '../core/index.ts';
import type { SearchKey } from './tenant-signing-key.ts';

/** A string inside a Meilisearch filter: double-quoted, backslash and quote escaped. */
export function filterString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The access rule of ../shared/DESIGN.md as a Meilisearch filter: the item shares a post with the
 * viewer and its classification rank is at most the viewer's clearance. Undefined when the viewer
 * holds no post (sees nothing; no token is issued at all).
 */
export function accessFilter(viewer: Viewer): string | undefined {
  const posts = [...new Set(viewer.posts)].filter((p) => p.length > 0).sort();
  const rank = classificationRank(viewer.clearance);
  if (posts.length === 0 || rank < 0) return undefined;
  return `posts IN [${posts.map(filterString).join(', ')}] AND classificationRank <= ${rank}`;
}

export interface TenantToken {
  token: string;
  expiresAt: Date;
}

/**
 * Sign a tenant token whose search rules carry the access filter on every index it names.
 * Meilisearch applies the rule to hits, counts, facets, facet search and highlights; `exp` is
 * always set so a leaked token dies on its own.
 */
export async function signTenantToken(key: SearchKey, viewer: Viewer, indexes: string[], expiresAt: Date): Promise<TenantToken | undefined> {
  const filter = accessFilter(viewer);
  if (!filter) return undefined;
  const searchRules = Object.fromEntries(indexes.map((i) => [i, { filter }]));
  const token = await generateTenantToken({ apiKey: key.key, apiKeyUid: key.uid, searchRules, expiresAt, algorithm: 'HS256' });
  return { token, expiresAt };
}

/**
 * Tokens per viewer, reused until a minute before they expire. A session should hold its own
 * (tokenFor with the session's end); the cache serves callers that only have a Viewer.
 */
export class TenantTokens {
  private cache = new Map<string, TenantToken>();

  constructor(
    private readonly key: () => Promise<SearchKey>,
    private readonly indexes: string[],
    private readonly ttlMs = 60 * 60_000,
  ) {}

  async tokenFor(viewer: Viewer, expiresAt?: Date): Promise<TenantToken | undefined> {
    const filter = accessFilter(viewer);
    if (!filter) return undefined;
    const now = Date.now();
    if (expiresAt) return signTenantToken(await this.key(), viewer, this.indexes, expiresAt);
    const hit = this.cache.get(filter);
    if (hit && hit.expiresAt.getTime() - now > 60_000) return hit;
    const fresh = await signTenantToken(await this.key(), viewer, this.indexes, new Date(now + this.ttlMs));
    if (this.cache.size > 10_000) this.cache.clear();
    if (fresh) this.cache.set(filter, fresh);
    return fresh;
  }

  /** Forget cached tokens (after the search key was recreated). */
  clear(): void {
    this.cache.clear();
  }
}
