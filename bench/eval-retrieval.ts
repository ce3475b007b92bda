// `npm run eval:retrieval`: retrieval quality of animus's dense, keyword and hybrid search
// on BEIR SciFact (dev split, read from ../shared/datasets/scifact) with the bundled local
// model: nDCG@10 and recall@100 with standard errors, and latency per query. Keyword search
// is scored by BM25 and by ts_rank, each exhaustive and bounded (several candidate budgets,
// to show what bounding costs); hybrid by the local-model rule and by equal-weight RRF.
// Writes bench/results/retrieval.json and retrieval.md. Env: ANIMUS_EVAL_DATABASE_URL
// (default the local test server; a scratch database is created and dropped).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { openPool } from '../src/db/pool.js';
import { LOCAL_DIMENSIONS, LocalEmbeddings } from '../src/llm/index.js';
import {
  DEFAULT_KEYWORD_CANDIDATES,
  EQUAL_FUSION,
  type FusionWeights,
  LOCAL_MODEL_FUSION,
  type Memory,
  MemoryStore,
  type MemoryStoreOptions,
} from '../src/memory/index.js';
import { cachedEmbeddings, loadSciFact, REPO_ROOT } from './lib/scifact.js';
import { meanWithError, percentile, round } from './lib/stats.js';

const ADMIN_URL = process.env.ANIMUS_EVAL_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/animus_test';
const log = (line: string) => console.log(`[eval:retrieval] ${line}`);

function ndcgAt10(ranked: string[], relevant: Set<string>): number {
  let dcg = 0;
  ranked.slice(0, 10).forEach((id, i) => {
    if (relevant.has(id)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(10, relevant.size); i++) ideal += 1 / Math.log2(i + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

function recallAt100(ranked: string[], relevant: Set<string>): number {
  const top = new Set(ranked.slice(0, 100));
  return [...relevant].filter((id) => top.has(id)).length / relevant.size;
}

interface MethodResult {
  ndcg_at_10: { mean: number; stderr: number };
  recall_at_100: { mean: number; stderr: number };
  latency_ms: { p50: number; p95: number };
}

async function main(): Promise<void> {
  const started = new Date();
  const data = loadSciFact();
  log(`${data.docs.length} documents, ${data.queries.length} judged queries`);
  const embeddings = new LocalEmbeddings();
  const docs = await cachedEmbeddings(
    'scifact-docs-use-lite',
    data.docs.map((d) => d.text),
    embeddings,
    LOCAL_DIMENSIONS,
    log,
  );
  log(
    docs.cached
      ? 'document embeddings from bench/.cache'
      : `embedded documents in ${round(docs.seconds, 1)} s`,
  );
  const queryStart = performance.now();
  const queryVectors = await embeddings.embedDocuments(data.queries.map((q) => q.text));
  const queryEmbedMs = (performance.now() - queryStart) / data.queries.length;

  const name = `animus_eval_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const handle = await openPool({ connectionString: url.toString(), max: 2, connectTimeoutMs: 10_000 });
  const results: Record<string, MethodResult> = {};
  try {
    await migrate(handle.pool, { embeddingDimensions: LOCAL_DIMENSIONS, pgmq: 'compat' });
    await handle.registerVectorType();
    const store = new MemoryStore({ pool: handle.pool, embeddings, dimensions: LOCAL_DIMENSIONS });
    for (let at = 0; at < data.docs.length; at += 1000) {
      await store.store(
        data.docs.slice(at, at + 1000).map((d, i) => ({
          content: d.text,
          memoryType: 'abstract',
          metadata: { docId: d.id },
          embedding: docs.vectors[at + i]!,
        })),
      );
    }
    await handle.pool.query('VACUUM ANALYZE memories');
    const docId = (m: Memory) => String(m.metadata.docId);

    const evaluate = async (label: string, run: (qi: number) => Promise<string[]>) => {
      const ndcg: number[] = [];
      const recall: number[] = [];
      const ms: number[] = [];
      for (const [qi, q] of data.queries.entries()) {
        const t = performance.now();
        const ranked = await run(qi);
        ms.push(performance.now() - t);
        const rel = data.qrels.get(q.id)!;
        ndcg.push(ndcgAt10(ranked, rel));
        recall.push(recallAt100(ranked, rel));
      }
      const n = meanWithError(ndcg);
      const r = meanWithError(recall);
      results[label] = {
        ndcg_at_10: { mean: round(n.mean, 4), stderr: round(n.stderr, 4) },
        recall_at_100: { mean: round(r.mean, 4), stderr: round(r.stderr, 4) },
        latency_ms: { p50: round(percentile(ms, 50), 2), p95: round(percentile(ms, 95), 2) },
      };
      log(`${label}: nDCG@10 ${round(n.mean, 4)} ± ${round(n.stderr, 4)}, recall@100 ${round(r.mean, 4)}`);
    };

    await evaluate('dense', async (qi) =>
      (await store.search(queryVectors[qi]!, { limit: 100 })).map((h) => docId(h.memory)),
    );
    const keyword = (label: string, options: Partial<MemoryStoreOptions>) => {
      const s = new MemoryStore({ pool: handle.pool, embeddings, dimensions: LOCAL_DIMENSIONS, ...options });
      return evaluate(label, async (qi) =>
        (await s.textSearch(data.queries[qi]!.text, { limit: 100 })).map((h) => docId(h.memory)),
      );
    };
    await keyword('keyword ts_rank (norm 1), exhaustive', {
      keywordRanking: 'ts_rank',
      keywordCandidates: null,
    });
    await keyword(`keyword ts_rank (norm 1), bounded (budget ${DEFAULT_KEYWORD_CANDIDATES})`, {
      keywordRanking: 'ts_rank',
    });
    await keyword('keyword BM25, exhaustive', { keywordCandidates: null });
    for (const budget of [100, 250, DEFAULT_KEYWORD_CANDIDATES, 1000, 2000]) {
      const isDefault = budget === DEFAULT_KEYWORD_CANDIDATES;
      await keyword(`keyword BM25, bounded (budget ${budget})${isDefault ? ' (default)' : ''}`, {
        keywordCandidates: budget,
      });
    }
    const hybrid = (label: string, fusion: FusionWeights) =>
      evaluate(label, async (qi) =>
        (
          await store.hybridSearch({
            text: data.queries[qi]!.text,
            embedding: queryVectors[qi]!,
            limit: 100,
            fusion,
          })
        ).map((h) => docId(h.memory)),
      );
    await hybrid('hybrid, local-model rule: keyword first, vector breaks ties (default)', LOCAL_MODEL_FUSION);
    await hybrid('hybrid, equal-weight RRF k=60 (the rule for strong models)', EQUAL_FUSION);
  } finally {
    await handle.pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
  const report = {
    evaluation: 'retrieval',
    dataset: 'BEIR SciFact dev split (../shared/datasets/scifact)',
    model: 'universal-sentence-encoder-lite (local, 512 dimensions)',
    started: started.toISOString(),
    documents: data.docs.length,
    queries: data.queries.length,
    document_embedding_seconds: docs.cached ? 'cached' : round(docs.seconds, 1),
    query_embedding_ms_each: round(queryEmbedMs, 1),
    results,
  };
  writeFileSync(
    join(REPO_ROOT, 'bench', 'results', 'retrieval.json'),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  const lines = [
    `# eval:retrieval — ${report.started}`,
    '',
    `${report.dataset}: ${report.documents} documents, ${report.queries} queries; ${report.model}.`,
    'Means with standard errors over queries; latency is per query, single client, on a shared 2-core machine.',
    '',
    '| method | nDCG@10 | recall@100 | p50 ms | p95 ms |',
    '|---|---|---|---|---|',
    ...Object.entries(results).map(
      ([k, r]) =>
        `| ${k} | ${r.ndcg_at_10.mean} ± ${r.ndcg_at_10.stderr} | ${r.recall_at_100.mean} ± ${r.recall_at_100.stderr} | ${r.latency_ms.p50} | ${r.latency_ms.p95} |`,
    ),
  ];
  writeFileSync(join(REPO_ROOT, 'bench', 'results', 'retrieval.md'), `${lines.join('\n')}\n`);
  log('wrote bench/results/retrieval.json and retrieval.md');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
