import { generateTenantToken } from 'meilisearch/token';
import { type MeiliConnection, ApplianceError, classificationRank, isApplianceError, type Viewer } from '../core/index.ts';
import { meiliPost } from './meili-query-http.ts';
import { meiliQuery } from './char-pairs.ts';
import type { MatchPage } from './page-match.ts';
import { RETRIEVE, SORT_RULES, idFilter, parseTerms, searchHit, userFilter, validated, type ItemHit, type Poster, type QueryService, type SearchHit, type SearchParams } from './query.ts';
import { INDEX_ITEMS, INDEX_PAGES } from './schema.ts';
import { INDEX_SHARED, type SharedItemDoc, type SharedPageDoc } from './shared-schema.ts';
import { APPROXIMATE_FACET } from './shared-verify.ts';
import type { SearchKey } from './tenant-signing-key.ts';
import { accessFilter, filterString } from './tenant-token.ts';

/** An office of the federation as the search names it (its code is its Meilisearch remote name). */
export interface Office {
  code: string;
  name: string;
}

/** Who is asked: this office (its own indexes, under the user's access rule) and the peers' shared indexes. */
export interface FederationTarget {
  self: Office;
  remotes: Office[];
}

export interface FederatedHit extends SearchHit {
  /** Code of the office holding the item (this office's own code for a local hit). */
  office: string;
  officeName: string;
  /** A local hit opens here; a remote one is only named (由 … 保管, 档号 …). */
  local: boolean;
  classification?: string;
}

export interface FederatedResult {
  items: FederatedHit[];
  total: number;
  offset: number;
  limit: number;
  terms: string[];
  ignored: string[];
  /** Offices asked (this one first). */
  asked: Office[];
  /** Peers that did not answer (left out; the search still answers with the others). */
  failed: Array<Office & { error: string }>;
  /**
   * Set when an office (this one or a peer) had more candidates for a long term than it checks
   * (verify.ts VERIFY_LIMIT): the total then holds Meilisearch's count of its candidates.
   */
  approximate?: true;
  /** Codes of the offices whose part is approximate. */
  approximateOffices?: string[];
  /** Their names, as the page and the console print them. */
  approximateOfficeNames?: string[];
}

const SHARED_RETRIEVE = ['itemId', 'archivalCode', 'title', 'docNumber', 'responsible', 'date', 'year', 'fonds', 'department', 'retention', 'pageCount', 'classification', 'office'];
const MAX_PAGES_FETCHED = 2000;

interface FedHit {
  _federation?: { indexUid: string; queriesPosition: number; remote?: string };
}
interface FedResponse<T> {
  hits: Array<T & FedHit>;
  estimatedTotalHits?: number;
  totalHits?: number;
  remoteErrors?: Record<string, { message?: string; code?: string }>;
  facetsByIndex?: Record<string, { distribution?: Record<string, Record<string, number>> }>;
}

/**
 * The search rules of a federated search's token. Findings of test/federation/token-remote.test.ts
 * (Meilisearch 1.21): a query sent to a remote needs the asking token to allow its index (else the
 * whole search is refused), and the token's filter for that index travels with the query to the
 * remote. So `shared` is allowed with `office != <this office>` (a person never reaches this
 * office's own shared index through it: it holds items of posts they may not hold) and the
 * person's clearance (a remote item above it is not shown). The peer's own key adds its filter
 * (scope) on its side.
 */
export function federatedRules(viewer: Viewer, self: string): Record<string, { filter: string }> | undefined {
  const access = accessFilter(viewer);
  if (!access) return undefined;
  return {
    [INDEX_ITEMS]: { filter: access },
    [INDEX_PAGES]: { filter: access },
    [INDEX_SHARED]: { filter: `office != ${filterString(self)} AND classificationRank <= ${classificationRank(viewer.clearance)}` },
  };
}

/**
 * 联合检索: one Meilisearch federated multi-search — this office's `items` under the person's
 * access rule, and `shared` at every peer (federationOptions.remote) — merged and ranked by
 * Meilisearch itself; then, in a second federated request, the page texts of the remote hits on
 * the result page, so matching pages and snippets are cut as for a local hit.
 */
export class FederatedQuery {
  private cache = new Map<string, { token: string; until: number }>();

  constructor(
    private readonly conn: MeiliConnection,
    private readonly key: () => Promise<SearchKey>,
    private readonly local: QueryService,
  ) {}

  private async poster(viewer: Viewer, self: string): Promise<Poster | undefined> {
    const rules = federatedRules(viewer, self);
    if (!rules) return undefined;
    const id = JSON.stringify(rules);
    const now = Date.now();
    let hit = this.cache.get(id);
    if (!hit || hit.until - now < 60_000) {
      const k = await this.key();
      const expiresAt = new Date(now + 3_600_000);
      hit = { token: await generateTenantToken({ apiKey: k.key, apiKeyUid: k.uid, searchRules: rules, expiresAt, algorithm: 'HS256' }), until: expiresAt.getTime() };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(id, hit);
    }
    const token = hit.token;
    return <T>(path: string, body: unknown) => meiliPost<T>(this.conn.host, token, path, body);
  }

  async search(viewer: Viewer, params: SearchParams, target: FederationTarget): Promise<FederatedResult> {
    const p = validated(params);
    const { terms, ignored } = parseTerms(p.q);
    const names = new Map([target.self, ...target.remotes].map((o) => [o.code, o.name]));
    const remotes = target.remotes.filter((r) => r.code !== target.self.code);
    const result: FederatedResult = { items: [], total: 0, offset: p.offset, limit: p.limit, terms: terms.map((t) => t.text), ignored, asked: [target.self, ...remotes], failed: [] };
    const post = await this.poster(viewer, target.self.code);
    if (!post) return result;
    const q = meiliQuery(terms);
    const sort = p.sort !== 'relevance' ? { sort: SORT_RULES[p.sort] } : terms.length === 0 ? { sort: ['year:desc', 'archivalCode:asc'] } : {};
    const filter = userFilter(p);
    // This office's part exact as local search makes it (query.ts verifiedFilter, under this token);
    // each peer makes its own part exact before answering (shared-verify.ts).
    const own = await this.local.verifiedFilter(post, q, filter, terms);
    const approximate = new Set<string>(own === 'approximate' ? [target.self.code] : []);
    const ownFilter = own === 'approximate' ? filter : own === 'none' ? [...filter, idFilter([])] : own;
    const body = (asked: Office[]) => ({
      federation: { offset: p.offset, limit: p.limit },
      queries: [
        { indexUid: INDEX_ITEMS, q, matchingStrategy: 'all', filter: ownFilter, attributesToRetrieve: RETRIEVE, ...sort },
        ...asked.map((r) => ({
          indexUid: INDEX_SHARED,
          q,
          matchingStrategy: 'all',
          filter: [...filter, 'kind = "item"'],
          attributesToRetrieve: SHARED_RETRIEVE,
          federationOptions: { remote: r.code },
          ...sort,
        })),
      ],
    });
    type Hit = (ItemHit | (SharedItemDoc & { contentHash?: string })) & FedHit;
    let res: FedResponse<Hit>;
    try {
      res = await post<FedResponse<Hit>>('/multi-search', body(remotes));
    } catch (e) {
      // A peer this Meilisearch's /network does not know (removed meanwhile): answer from this office, name them all.
      if (!(isApplianceError(e) && remotes.length && /remote/i.test(String(e.details?.meiliCode ?? '')))) throw e;
      res = await post<FedResponse<Hit>>('/multi-search', body([]));
      res.remoteErrors = Object.fromEntries(remotes.map((r) => [r.code, { code: String((e as ApplianceError).details?.meiliCode) }]));
    }
    for (const [code, err] of Object.entries(res.remoteErrors ?? {})) result.failed.push({ code, name: names.get(code) ?? code, error: err.code ?? 'remote_error' });
    for (const code of Object.keys(res.facetsByIndex?.[INDEX_SHARED]?.distribution?.[APPROXIMATE_FACET] ?? {})) if (code !== target.self.code && names.has(code)) approximate.add(code);
    if (approximate.size) {
      result.approximate = true;
      result.approximateOffices = [...approximate];
      result.approximateOfficeNames = result.approximateOffices.map((c) => names.get(c) ?? c);
    }
    result.total = res.estimatedTotalHits ?? res.totalHits ?? res.hits.length;
    const isLocal = (h: Hit) => (h._federation?.queriesPosition ?? 0) === 0;
    const localHits = res.hits.filter(isLocal) as ItemHit[];
    const remoteHits = res.hits.filter((h) => !isLocal(h)) as Array<SharedItemDoc & FedHit>;
    const localPages = localHits.length ? await this.local.pagesOf(post, localHits) : new Map<string, MatchPage[]>();
    const remotePages = await this.remotePages(post, remoteHits);
    result.items = res.hits.map((h) => {
      const local = isLocal(h);
      const office = local ? target.self.code : (h._federation?.remote ?? (h as SharedItemDoc).office);
      const pages = local ? localPages.get(h.itemId) : remotePages.get(`${office}\u0000${h.itemId}`);
      return {
        ...searchHit(h, terms, pages ?? []),
        office,
        officeName: names.get(office) ?? office,
        local,
        ...(local ? {} : { classification: (h as SharedItemDoc).classification }),
      };
    });
    return result;
  }

  /** Page texts of the remote hits, fetched from each peer's shared index by filter (one federated request). */
  private async remotePages(post: Poster, hits: Array<SharedItemDoc & FedHit>): Promise<Map<string, MatchPage[]>> {
    const out = new Map<string, MatchPage[]>();
    const byOffice = new Map<string, Array<SharedItemDoc & FedHit>>();
    for (const h of hits) {
      const office = h._federation?.remote ?? h.office;
      let list = byOffice.get(office);
      if (!list) byOffice.set(office, (list = []));
      list.push(h);
    }
    if (byOffice.size === 0) return out;
    const limit = Math.min(
      MAX_PAGES_FETCHED,
      hits.reduce((n, h) => n + h.pageCount, 0),
    );
    let res: FedResponse<Pick<SharedPageDoc, 'itemId' | 'page' | 'text' | 'office'>>;
    try {
      res = await post('/multi-search', {
        federation: { limit },
        queries: [...byOffice].map(([office, list]) => ({
          indexUid: INDEX_SHARED,
          filter: `kind = "page" AND itemId IN [${list.map((h) => filterString(h.itemId)).join(', ')}]`,
          sort: ['page:asc'],
          attributesToRetrieve: ['itemId', 'page', 'text', 'office'],
          federationOptions: { remote: office },
        })),
      });
    } catch {
      return out; // the hits stay, without snippets
    }
    for (const p of res.hits) {
      const key = `${p._federation?.remote ?? p.office}\u0000${p.itemId}`;
      let list = out.get(key);
      if (!list) out.set(key, (list = []));
      list.push({ page: p.page, text: p.text });
    }
    for (const list of out.values()) list.sort((a, b) => a.page - b.page);
    return out;
  }
}

export function notFederated(): ApplianceError {
  return new ApplianceError('FEDERATION_OFF', '本设备未设置单位代码，联合检索不可用。请由系统管理员设置 office.code 与 office.name。', 'federated search needs office.code', { status: 409 });
}
