// bench/federation-exact: what the exact check of 联合检索 (search/shared-verify.ts) costs the
// answering office — for a long term with K candidates in its shared index (each holding the term's
// 4-character windows apart, one in ten the whole term): the peer's query as it was (unchecked),
// the check itself (cold, then warm: page texts cached), and the checked query; with the page-text
// files present (the normal case) and absent (texts from the shared index's page documents).
// One real Meilisearch, the peer's real tenant token. The check runs to the end here (no budget: the
// endpoint stops it at SHARED_CHECK_BUDGET_MS and flags the answer approximate). Prints figures;
// asserts nothing.
//   npx tsx bench/federation-exact.ts [--k 100,1000,4999] [--pages 5]
import { performance } from 'node:perf_hooks';
import { dataPath, type ItemMetadata, type PageText } from '../core/index.ts';
import { createPeerKey, peerToken } from '../federation/peer-keys.ts';
import { SharedIndexWriter, createSharedVerifier } from '../search/index.ts';
import { meiliQuery, normalizeText, parseQuery } from '../search/char-pairs.ts';
import { meiliPost } from '../search/meili-query-http.ts';
import { buildDocs } from '../search/schema.ts';
import { PageTextStore } from '../search/text-store.ts';
import { rng, startMeili } from '../test/search/support.ts';
import { groundTruthSentences, syntheticPageText } from './synthetic-corpus.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const KS = arg('k', '100,1000,4999').split(',').map(Number);
const PAGES = Number(arg('pages', '5'));
const rand = rng(11);
const sentences = groundTruthSentences();

// One term per K, of characters the synthetic corpus does not use.
const TERMS = ['甲乙丙丁戊', '子丑寅卯辰', '赤橙黄绿青', '东南西北中', '金木水火土', '春夏秋冬晴', '梅兰竹菊松', '琴棋书画诗'];

function item(id: string, term: string, whole: boolean): { meta: ItemMetadata; pages: PageText[] } {
  const [a, b, c, d, e] = [...term];
  const pages: PageText[] = Array.from({ length: PAGES }, (_, i) => ({
    page: i + 1,
    width: 100,
    height: 100,
    dpi: 300,
    rotation: 0,
    text: syntheticPageText(sentences, rand) + (i === 0 ? (whole ? term : `${a}${b}${c}${d}，又${b}${c}${d}${e}`) : ''),
    confidence: 90,
    lines: [],
    source: 'ocr',
  }));
  const meta: ItemMetadata = {
    itemId: id,
    archivalCode: `A-2014-Y-${id}`,
    title: '批量共享件',
    classification: '公开',
    posts: ['ZH'],
    pageCount: PAGES,
    originals: [],
    createdAt: '2026-11-01T00:00:00Z',
    updatedAt: '2026-11-01T00:00:00Z',
  };
  return { meta, pages };
}

const ms = (t0: number) => performance.now() - t0;
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const m = await startMeili();
  try {
    const writer = new SharedIndexWriter(m.conn);
    const texts = new PageTextStore(dataPath(m.dir, 'texts'));
    const peer = await createPeerKey(m.conn, 'B');
    const { token } = await peerToken({ ...peer, relation: 'peer' });
    const verifier = createSharedVerifier(m.conn, m.dir);
    console.log(`pages per item: ${PAGES}`);
    console.log('K candidates | files | unchecked query ms | check cold ms | check warm ms | checked query ms | hits');
    for (const [n, K] of KS.entries()) {
      for (const files of [true, false]) {
        const term = TERMS[(2 * n + (files ? 0 : 1)) % TERMS.length];
        const prefix = `K${K}${files ? 'F' : 'N'}`;
        const items = Array.from({ length: K }, (_, i) => item(`${prefix}${String(i).padStart(5, '0')}`, `${term}`, i % 10 === 0));
        for (let i = 0; i < items.length; i += 500)
          await writer.put(
            items.slice(i, i + 500).map((x) => ({ ...x, scope: 'all' as const })),
            'A',
          );
        if (files)
          for (const x of items)
            await texts.write(
              x.meta.itemId,
              buildDocs(x.meta, x.pages).item.contentHash,
              x.pages.map((p) => normalizeText(p.text)),
            );
        const body = {
          federation: { limit: 20 },
          queries: [{ indexUid: 'shared', q: meiliQuery(parseQuery(term).terms), matchingStrategy: 'all', filter: ['kind = "item"'], attributesToRetrieve: ['itemId', 'title'] }],
        };
        const post = (b: unknown) => meiliPost<{ hits: unknown[]; estimatedTotalHits: number }>(m.conn.host, token, '/multi-search', b);
        const plain: number[] = [];
        for (let i = 0; i < 5; i++) {
          const t0 = performance.now();
          await post(body);
          plain.push(ms(t0));
        }
        let t0 = performance.now();
        let checked = await verifier.check(body, token, Infinity);
        const cold = ms(t0);
        const warm: number[] = [];
        for (let i = 0; i < 5; i++) {
          t0 = performance.now();
          checked = await verifier.check(body, token, Infinity);
          warm.push(ms(t0));
        }
        const after: number[] = [];
        let hits = 0;
        for (let i = 0; i < 5; i++) {
          t0 = performance.now();
          hits = (await post(checked.body)).estimatedTotalHits;
          after.push(ms(t0));
        }
        console.log(
          `${K} | ${files ? 'yes' : 'no'} | ${median(plain).toFixed(1)} | ${cold.toFixed(1)} | ${median(warm).toFixed(1)} | ${median(after).toFixed(1)} | ${hits}${checked.approximate ? ' (approximate)' : ''}`,
        );
      }
    }
  } finally {
    await m.stop();
  }
}

await main();
