import { CLASSIFICATIONS, type Classification } from './config.ts';

/** 公开 0 < 内部 1 < 秘密 2 < 机密 3 < 绝密 4. */
export function classificationRank(c: Classification): number {
  return CLASSIFICATIONS.indexOf(c);
}

/** Whoever is asking to see items: the posts they hold and their clearance. */
export interface Viewer {
  posts: string[];
  clearance: Classification;
}

/**
 * The one access rule (../shared/DESIGN.md): an item is visible if it shares at least one post
 * with the viewer and its classification is at most the viewer's clearance. Search enforces the
 * same rule inside Meilisearch with a tenant-token filter; every item route enforces it here.
 */
export function canSee(viewer: Viewer, item: { posts: string[]; classification: Classification }): boolean {
  if (classificationRank(item.classification) > classificationRank(viewer.clearance)) return false;
  return item.posts.some((p) => viewer.posts.includes(p));
}
