import type { MatchPage } from './page-match.ts';

/**
 * Page texts of recently shown items, keyed by item and contentHash (a re-indexed item has a new
 * hash, so a stale entry is never used). Bounded by characters held; least recently used goes.
 * Holds no access decision: the query service reads it only for items the viewer's own
 * tenant-token query returned. Pages keep their lower-cased form (page-match.ts) once a query
 * with Latin letters needed it, so a held item costs up to about twice its characters.
 */
export class PageTextCache {
  private map = new Map<string, { hash: string; pages: MatchPage[]; size: number }>();
  private size = 0;

  constructor(private readonly maxChars: number) {}

  get(itemId: string, hash: string): MatchPage[] | undefined {
    const e = this.map.get(itemId);
    if (!e || e.hash !== hash) return undefined;
    this.map.delete(itemId);
    this.map.set(itemId, e);
    return e.pages;
  }

  set(itemId: string, hash: string, pages: MatchPage[]): void {
    const size = pages.reduce((n, p) => n + p.text.length, 0);
    if (size > this.maxChars / 10) return;
    const old = this.map.get(itemId);
    if (old) {
      this.size -= old.size;
      this.map.delete(itemId);
    }
    this.map.set(itemId, { hash, pages, size });
    this.size += size;
    for (const [k, v] of this.map) {
      if (this.size <= this.maxChars) break;
      this.map.delete(k);
      this.size -= v.size;
    }
  }
}
