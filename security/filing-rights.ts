import { type Classification, ApplianceError, classificationRank } from '../core/index.ts';

/**
 * Who files an item (an archivist at the upload or the catalogue editor): the posts they may file
 * into — their own, plus any the 安全保密管理员 granted as filing posts (UserRecord.filingPosts) —
 * and their clearance. An archivist never files into a post they do not hold, nor above their
 * clearance: otherwise a post could plant items in (or move items into) another post's archive.
 */
export interface Filer {
  username: string;
  posts: readonly string[];
  filingPosts?: readonly string[];
  clearance: Classification;
}

export function filingPostsOf(f: Pick<Filer, 'posts' | 'filingPosts'>): Set<string> {
  return new Set([...f.posts, ...(f.filingPosts ?? [])]);
}

/** What one item would be filed as. */
export interface Filing {
  label: string;
  posts: readonly string[];
  classification: Classification;
}

/** Throws FILING_FORBIDDEN naming every item filed outside the filer's posts or above their clearance. */
export function assertMayFile(filer: Filer, items: readonly Filing[]): void {
  const allowed = filingPostsOf(filer);
  const problems: Array<{ label: string; posts?: string[]; classification?: Classification }> = [];
  for (const it of items) {
    const outside = it.posts.filter((p) => !allowed.has(p));
    const above = classificationRank(it.classification) > classificationRank(filer.clearance);
    if (outside.length || above) problems.push({ label: it.label, ...(outside.length ? { posts: outside } : {}), ...(above ? { classification: it.classification } : {}) });
  }
  if (!problems.length) return;
  const outsidePosts = [...new Set(problems.flatMap((p) => p.posts ?? []))];
  const aboveLevels = [...new Set(problems.flatMap((p) => (p.classification ? [p.classification] : [])))];
  const why = [
    outsidePosts.length ? `您无权向岗位 ${outsidePosts.join('、')} 归档（只能归入您所在或获授权的岗位：${[...allowed].join('、') || '无'}）` : '',
    aboveLevels.length ? `密级 ${aboveLevels.join('、')} 高于您的密级“${filer.clearance}”` : '',
  ]
    .filter(Boolean)
    .join('；');
  const names =
    problems
      .slice(0, 5)
      .map((p) => p.label)
      .join('、') + (problems.length > 5 ? ` 等 ${problems.length} 件` : '');
  throw new ApplianceError(
    'FILING_FORBIDDEN',
    `${why}。涉及：${names}。如需向其他岗位归档，请安全保密管理员授予归档岗位。`,
    `filing outside the filer's posts or clearance: ${problems.length} item(s)`,
    { status: 403, details: { posts: outsidePosts, classifications: aboveLevels, items: problems.length } },
  );
}
