import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ApplianceError, CLASSIFICATIONS, type Classification, type ItemMetadata, type SharingScope, dataPath, sharingScopeOf, writeFileAtomic } from '../core/index.ts';

/**
 * The 安全保密管理员's sharing policy (config/sharing-policy.json, docs/FORMATS.md): which 密级 may
 * leave the office at all, and which posts' items may. An item's 共享范围 is honoured only inside it;
 * beyond it the item is simply not shared (超出共享策略). Absent file: 公开 and 内部, every post.
 */
export interface SharingPolicy {
  version: 1;
  classifications: Classification[];
  /** Posts whose items may be shared; null = every post. An item is shareable when every one of its posts is allowed. */
  posts: string[] | null;
  updatedAt?: string;
  updatedBy?: string;
}

export const DEFAULT_SHARING_POLICY: SharingPolicy = { version: 1, classifications: ['公开', '内部'], posts: null };

export const sharingPolicyPath = (dataDir: string) => dataPath(dataDir, 'config', 'sharing-policy.json');

export const sharingPolicyBody = z
  .object({
    classifications: z.array(z.enum(CLASSIFICATIONS)).max(CLASSIFICATIONS.length),
    posts: z.union([z.array(z.string().trim().min(1).max(32)).max(500), z.null()]),
  })
  .strict();

const stored = sharingPolicyBody.extend({ version: z.literal(1), updatedAt: z.string().optional(), updatedBy: z.string().optional() }).strict();

export async function readSharingPolicy(dataDir: string): Promise<SharingPolicy> {
  let text: string;
  try {
    text = await readFile(sharingPolicyPath(dataDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_SHARING_POLICY;
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const r = stored.safeParse(parsed);
  // A damaged policy shares nothing until the secadmin saves it again (never the default silently).
  if (!r.success)
    throw new ApplianceError('SHARING_POLICY_CORRUPT', '共享策略文件（config/sharing-policy.json）已损坏，暂停共享；请由安全保密管理员重新保存共享策略。', 'sharing policy damaged', { status: 500 });
  return r.data as SharingPolicy;
}

export async function writeSharingPolicy(dataDir: string, body: z.infer<typeof sharingPolicyBody>, by: string): Promise<SharingPolicy> {
  const policy: SharingPolicy = {
    version: 1,
    classifications: CLASSIFICATIONS.filter((c) => body.classifications.includes(c)),
    posts: body.posts === null ? null : [...new Set(body.posts)].sort(),
    updatedAt: new Date().toISOString(),
    updatedBy: by,
  };
  await writeFileAtomic(sharingPolicyPath(dataDir), `${JSON.stringify(policy, null, 1)}\n`, 0o600);
  return policy;
}

/** Why an item is not in the shared index: its scope is 本单位, or the policy keeps it home. */
export type NotSharedReason = 'office' | 'policy-classification' | 'policy-posts';

export function policyAllows(policy: SharingPolicy, meta: Pick<ItemMetadata, 'classification' | 'posts'>): NotSharedReason | undefined {
  if (!policy.classifications.includes(meta.classification)) return 'policy-classification';
  if (policy.posts !== null) {
    const allowed = new Set(policy.posts);
    if (meta.posts.length === 0 || meta.posts.some((p) => !allowed.has(p))) return 'policy-posts';
  }
  return undefined;
}

/** How far the item actually goes out: its scope if the policy allows it, else nowhere. */
export function effectiveScope(
  policy: SharingPolicy,
  meta: Pick<ItemMetadata, 'classification' | 'posts' | 'sharing'>,
): { scope: Exclude<SharingScope, 'office'> } | { scope: 'office'; reason: NotSharedReason } {
  const scope = sharingScopeOf(meta);
  if (scope === 'office') return { scope: 'office', reason: 'office' };
  const why = policyAllows(policy, meta);
  if (why) return { scope: 'office', reason: why };
  return { scope };
}

/** Rank of how far a scope reaches: a change to a lower rank is a narrowing (fail-closed). */
export function scopeReach(scope: SharingScope): number {
  return scope === 'office' ? 0 : scope === 'parent' ? 1 : 2;
}

export const NOT_SHARED_ZH: Record<NotSharedReason, string> = {
  office: '本单位（不共享）',
  'policy-classification': '超出共享策略：该密级不允许共享',
  'policy-posts': '超出共享策略：所属岗位的条目不允许共享',
};
