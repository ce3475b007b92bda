// `npm run bench:memory`: memory-store performance on a Postgres server, with LangChain's
// PGVectorStore on the same data for comparison. Measures insert throughput with
// precomputed 512-dimension embeddings, search latency p50/p95 (vector, keyword, hybrid) at
// each size, HNSW recall@10 against exact search, and filtered recall at 1% selectivity.
// Writes bench/results/memory.json and memory.md. Env: ANIMUS_BENCH_DATABASE_URL (default
// the local test server), BENCH_SIZES (default 10000,100000), BENCH_QUERIES (default 200),
// BENCH_LANGCHAIN_SIZES (default 10000), BENCH_WRITERS (concurrent writers, default 2).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGVectorStore } from '@langchain/community/vectorstores/pgvector';
import { Document } from '@langchain/core/documents';
import pg from 'pg';
import pgvector from 'pgvector';
import { migrate } from '../src/db/migrate.js';
import { openPool } from '../src/db/pool.js';
import { type MemoryEntry, MemoryStore } from '../src/memory/index.js';
import { REPO_ROOT } from './lib/scifact.js';
import { percentile, round } from './lib/stats.js';
import { syntheticMemory, syntheticQuery } from './lib/synthetic.js';
import { PrecomputedOnly } from './lib/precomputed-only.js';

const DIMS = 512;
const ADMIN_URL = process.env.ANIMUS_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/animus_test';
const SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const LANGCHAIN_SIZES = new Set((process.env.BENCH_LANGCHAIN_SIZES ?? '10000').split(',').map(Number));
const BATCH = 1000;
/** Concurrent writers in the second half of each insert phase. */
const WRITERS = Math.max(1, Number(process.env.BENCH_WRITERS ?? 2));
const log = (line: string) => console.log(`[bench:memory] ${line}`);

async function scratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `animus_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

function latency(ms: number[]) {
  return { p50_ms: round(percentile(ms, 50), 2), p95_ms: round(percentile(ms, 95), 2), n: ms.length };
}

function recallAt(got: string[], truth: string[]): number {
  if (truth.length === 0) return 1;
  const t = new Set(truth);
  return got.filter((id) => t.has(id)).length / truth.length;
}

/**
 * Stores rows [from, to) as store() calls of BATCH entries, `writers` calls at a time; returns
 * memories per second. Rows are generated before the clock starts.
 */
async function storeRows(store: MemoryStore, from: number, to: number, writers: number): Promise<number> {
  const batches: MemoryEntry[][] = [];
  for (let at = from; at < to; at += BATCH) {
    const entries: MemoryEntry[] = [];
    for (let i = at; i < Math.min(at + BATCH, to); i++) entries.push(syntheticMemory(i, DIMS));
    batches.push(entries);
  }
  let next = 0;
  const { ms } = await timed(() =>
    Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < batches.length) {
          const stored = await store.store(batches[next++]!);
          if (!stored.every((r) => r.created)) throw new Error('bench rows must all be new');
        }
      }),
    ),
  );
  return Math.round((to - from) / (ms / 1000));
}

const EXACT = `SELECT id::text FROM memories
WHERE ($2::text IS NULL OR memory_type = $2) ORDER BY (embedding <=> $1::vector) + 0 LIMIT $3`;

async function runSize(size: number): Promise<Record<string, unknown>> {
  const db = await scratchDatabase();
  const handle = await openPool({ connectionString: db.url, max: 4, connectTimeoutMs: 10_000 });
  const pool = handle.pool;
  const result: Record<string, unknown> = { memories: size, dimensions: DIMS };
  try {
    await migrate(pool, { embeddingDimensions: DIMS, pgmq: 'compat' });
    await handle.registerVectorType();
    const store = new MemoryStore({ pool, embeddings: new PrecomputedOnly(DIMS), dimensions: DIMS });

    // Insert with every index live: the path an application takes. The first half of the
    // rows by one writer, the second by WRITERS concurrent writers (store() calls of BATCH).
    const liveRows = Math.min(size, 10_000);
    const live1 = await storeRows(store, 0, liveRows / 2, 1);
    const liveN = await storeRows(store, liveRows / 2, liveRows, WRITERS);
    result.insert_live_indexes = { rows: liveRows / 2, writers: 1, per_second: live1 };
    result.insert_live_indexes_concurrent = { rows: liveRows / 2, writers: WRITERS, per_second: liveN };
    log(`${size}: insert with live HNSW: ${live1}/s by one writer, ${liveN}/s by ${WRITERS}`);

    if (size > liveRows) {
      // Bulk load: HNSW dropped during the load, built once afterwards (pgvector's advice);
      // every other index and the BM25 statistics stay live. Half the rows by one writer,
      // half by WRITERS.
      await pool.query('DROP INDEX memories_embedding_hnsw');
      const half = liveRows + Math.floor((size - liveRows) / 2);
      const t0 = performance.now();
      const bulk1 = await storeRows(store, liveRows, half, 1);
      const bulkN = await storeRows(store, half, size, WRITERS);
      const loadSeconds = (performance.now() - t0) / 1000;
      const workers = (
        await pool.query<{ w: string }>("SELECT current_setting('max_parallel_maintenance_workers') AS w")
      ).rows[0]!.w;
      const build = await timed(async () => {
        const c = await pool.connect();
        try {
          await c.query("SET maintenance_work_mem = '1GB'");
          await c.query(
            'CREATE INDEX memories_embedding_hnsw ON memories USING hnsw (embedding vector_cosine_ops)',
          );
        } finally {
          c.release();
        }
      });
      const bulkRows = size - liveRows;
      result.insert_bulk_without_hnsw = { rows: half - liveRows, writers: 1, per_second: bulk1 };
      result.insert_bulk_without_hnsw_concurrent = { rows: size - half, writers: WRITERS, per_second: bulkN };
      result.hnsw_build_seconds = round(build.ms / 1000, 1);
      result.hnsw_build_parallel_workers = Number(workers);
      result.bulk_end_to_end_per_second = Math.round(bulkRows / (loadSeconds + build.ms / 1000));
      log(
        `${size}: bulk without HNSW ${bulk1}/s by one writer, ${bulkN}/s by ${WRITERS}; ` +
          `HNSW build ${round(build.ms / 1000, 1)} s (${workers} parallel workers); ` +
          `load + build ${String(result.bulk_end_to_end_per_second)}/s`,
      );
    }
    await pool.query('VACUUM ANALYZE memories');

    const queries = Array.from({ length: QUERIES }, (_, q) => syntheticQuery(q, DIMS));
    for (const q of queries.slice(0, 10)) await store.hybridSearch({ text: q.text, embedding: q.embedding }); // warm-up
    const lat = {
      vector: [] as number[],
      keyword: [] as number[],
      hybrid: [] as number[],
      keyword_exhaustive: [] as number[],
      keyword_ts_rank: [] as number[],
    };
    // BM25 over every match (no candidate bound) and Postgres's ts_rank on the same bounded
    // candidates, on the first 50 queries: what the bound saves and what BM25 costs.
    const exhaustive = new MemoryStore({
      pool,
      embeddings: new PrecomputedOnly(DIMS),
      dimensions: DIMS,
      keywordCandidates: null,
    });
    const tsRank = new MemoryStore({
      pool,
      embeddings: new PrecomputedOnly(DIMS),
      dimensions: DIMS,
      keywordRanking: 'ts_rank',
    });
    const recall: number[] = [];
    const filteredRecall: number[] = [];
    let filteredShort = 0;
    for (const [qi, q] of queries.entries()) {
      const v = await timed(() => store.search(q.embedding, { limit: 10 }));
      lat.vector.push(v.ms);
      lat.keyword.push((await timed(() => store.textSearch(q.text, { limit: 10 }))).ms);
      lat.hybrid.push(
        (await timed(() => store.hybridSearch({ text: q.text, embedding: q.embedding, limit: 10 }))).ms,
      );
      if (qi < 100) {
        const vec = pgvector.toSql(q.embedding);
        const exact = (await pool.query<{ id: string }>(EXACT, [vec, null, 10])).rows.map((r) => r.id);
        recall.push(
          recallAt(
            v.value.map((h) => h.memory.id),
            exact,
          ),
        );
        const f = await store.search(q.embedding, { limit: 10, filters: { memoryType: 'rare' } });
        if (f.length < 10) filteredShort += 1;
        const fExact = (await pool.query<{ id: string }>(EXACT, [vec, 'rare', 10])).rows.map((r) => r.id);
        filteredRecall.push(
          recallAt(
            f.map((h) => h.memory.id),
            fExact,
          ),
        );
      }
    }
    // After the main loop, so the exhaustive scans (half the corpus each) do not evict the
    // pages the default searches use.
    for (const q of queries.slice(0, 50)) {
      lat.keyword_exhaustive.push((await timed(() => exhaustive.textSearch(q.text, { limit: 10 }))).ms);
      lat.keyword_ts_rank.push((await timed(() => tsRank.textSearch(q.text, { limit: 10 }))).ms);
    }
    const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / xs.length, 4);
    result.latency = {
      vector: latency(lat.vector),
      keyword: latency(lat.keyword),
      hybrid: latency(lat.hybrid),
      keyword_exhaustive: latency(lat.keyword_exhaustive),
      keyword_ts_rank: latency(lat.keyword_ts_rank),
    };
    result.hnsw_recall_at_10 = mean(recall);
    result.filtered_recall_at_10_1pct = mean(filteredRecall);
    result.filtered_short_results = filteredShort;
    log(
      `${size}: ${JSON.stringify(result.latency)} recall@10 ${mean(recall)} filtered ${mean(filteredRecall)}`,
    );

    if (LANGCHAIN_SIZES.has(size)) result.langchain_pgvector = await runLangChain(pool, size, queries);
  } finally {
    await pool.end();
    await db.drop();
  }
  return result;
}

/** LangChain's PGVectorStore on the same rows and queries, in the same database. */
async function runLangChain(
  pool: pg.Pool,
  size: number,
  queries: { text: string; embedding: number[] }[],
): Promise<Record<string, unknown>> {
  const lc = await PGVectorStore.initialize(new PrecomputedOnly(DIMS), {
    pool,
    tableName: 'lc_bench',
    dimensions: DIMS,
    distanceStrategy: 'cosine',
  });
  let ms = 0;
  const liveRows = Math.min(size, 10_000);
  await lc.createHnswIndex({ dimensions: DIMS });
  for (let at = 0; at < size; at += BATCH) {
    const rows: ReturnType<typeof syntheticMemory>[] = [];
    for (let i = at; i < Math.min(at + BATCH, size); i++) rows.push(syntheticMemory(i, DIMS));
    ms += (
      await timed(() =>
        lc.addVectors(
          rows.map((r) => r.embedding),
          rows.map((r) => new Document({ pageContent: r.content, metadata: { memoryType: r.memoryType } })),
        ),
      )
    ).ms;
  }
  await pool.query('VACUUM ANALYZE lc_bench');
  const lat: number[] = [];
  const recall: number[] = [];
  const filteredRecall: number[] = [];
  for (const [qi, q] of queries.entries()) {
    const r = await timed(() => lc.similaritySearchVectorWithScore(q.embedding, 10));
    lat.push(r.ms);
    if (qi < 100) {
      const vec = pgvector.toSql(q.embedding);
      const exact = (await pool.query<{ id: string }>(EXACT, [vec, null, 10])).rows.map((x) => x.id);
      // Same data, different ids: compare by content.
      const contents = new Set(r.value.map(([d]) => d.pageContent));
      const exactContents = (
        await pool.query<{ content: string }>('SELECT content FROM memories WHERE id = ANY($1::uuid[])', [
          exact,
        ])
      ).rows.map((x) => x.content);
      recall.push(exactContents.filter((c) => contents.has(c)).length / exactContents.length);
      const f = await lc.similaritySearchVectorWithScore(q.embedding, 10, { memoryType: 'rare' });
      const fExact = (await pool.query<{ id: string }>(EXACT, [vec, 'rare', 10])).rows.map((x) => x.id);
      const fContents = new Set(f.map(([d]) => d.pageContent));
      const fExactContents = (
        await pool.query<{ content: string }>('SELECT content FROM memories WHERE id = ANY($1::uuid[])', [
          fExact,
        ])
      ).rows.map((x) => x.content);
      filteredRecall.push(fExactContents.filter((c) => fContents.has(c)).length / fExactContents.length);
    }
  }
  // initialize() keeps a pooled client checked out; hand it back so the pool can end.
  (lc as unknown as { client?: pg.PoolClient }).client?.release();
  const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / xs.length, 4);
  const out = {
    insert_live_hnsw: { rows: size, per_second: Math.round(size / (ms / 1000)) },
    vector_latency: latency(lat),
    hnsw_recall_at_10: mean(recall),
    filtered_recall_at_10_1pct: mean(filteredRecall),
    note: `rows inserted with its HNSW index live (as animus's first ${liveRows}); no keyword or hybrid search`,
  };
  log(`${size}: langchain ${JSON.stringify(out)}`);
  return out;
}

async function main(): Promise<void> {
  const started = new Date();
  const sizes: Record<string, unknown>[] = [];
  for (const size of SIZES) sizes.push(await runSize(size));
  const report = {
    benchmark: 'memory',
    started: started.toISOString(),
    seconds: round((Date.now() - started.getTime()) / 1000, 1),
    server: ADMIN_URL.replace(/\/\/[^@]*@/, '//'),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    queries: QUERIES,
    goals: { insert_per_second: 10_000, hybrid_p95_ms_at_100k: 20, recall_at_10: 0.95, filtered_recall: 0.9 },
    sizes,
  };
  writeFileSync(join(REPO_ROOT, 'bench', 'results', 'memory.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(REPO_ROOT, 'bench', 'results', 'memory.md'), markdown(report));
  log('wrote bench/results/memory.json and memory.md');
}

interface Latency {
  p50_ms: number;
  p95_ms: number;
}
interface SizeRow {
  memories: number;
  insert_live_indexes: { per_second: number };
  insert_live_indexes_concurrent: { per_second: number; writers: number };
  insert_bulk_without_hnsw?: { per_second: number };
  insert_bulk_without_hnsw_concurrent?: { per_second: number; writers: number };
  hnsw_build_seconds?: number;
  hnsw_build_parallel_workers?: number;
  bulk_end_to_end_per_second?: number;
  latency: Record<string, Latency>;
  hnsw_recall_at_10: number;
  filtered_recall_at_10_1pct: number;
  langchain_pgvector?: {
    insert_live_hnsw: { per_second: number };
    vector_latency: Latency;
    hnsw_recall_at_10: number;
    filtered_recall_at_10_1pct: number;
  };
}

function markdown(report: {
  started: string;
  sizes: Record<string, unknown>[];
  machine: { cpus: number };
}): string {
  const lines = [
    `# bench:memory — ${report.started}`,
    '',
    `${report.machine.cpus} CPUs, Postgres server, 512-dimension precomputed embeddings; searches from one client.`,
    '',
    'Inserts are `store()` calls of 1,000 memories; "1 / N" is one writer, then N concurrent writers',
    "(half of the phase's rows each). Live: every index maintained, HNSW included (the first 10,000",
    "rows). Bulk: HNSW dropped for the load and built after it (pgvector's advice for loading), the",
    'other indexes and the BM25 statistics live; "load + build" is the bulk rows over both times.',
    '',
    '| memories | insert/s live HNSW (1 / N writers) | insert/s bulk (1 / N writers) | HNSW build s (workers) | load + build /s |',
    '|---|---|---|---|---|',
  ];
  for (const s of report.sizes as unknown as SizeRow[]) {
    const c = s.insert_live_indexes_concurrent;
    const b = s.insert_bulk_without_hnsw_concurrent;
    lines.push(
      `| ${s.memories} | ${s.insert_live_indexes.per_second} / ${c.per_second} (N=${c.writers}) | ${
        b === undefined ? '–' : `${s.insert_bulk_without_hnsw!.per_second} / ${b.per_second} (N=${b.writers})`
      } | ${s.hnsw_build_seconds === undefined ? '–' : `${s.hnsw_build_seconds} (${s.hnsw_build_parallel_workers})`} | ${
        s.bulk_end_to_end_per_second ?? '–'
      } |`,
    );
  }
  lines.push(
    '',
    'Keyword is BM25 on the bounded candidate set (the default); "exhaustive" ranks every match by',
    'BM25, "ts_rank" ranks the bounded candidates by Postgres\'s ts_rank (both on the first 50 queries).',
    '',
    '| memories | vector p50/p95 ms | keyword p50/p95 ms | hybrid p50/p95 ms | keyword exhaustive p50/p95 ms | keyword ts_rank p50/p95 ms | recall@10 | filtered recall@10 (1%) |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const s of report.sizes as unknown as SizeRow[]) {
    const l = s.latency;
    const pp = (k: string) => `${l[k]!.p50_ms} / ${l[k]!.p95_ms}`;
    lines.push(
      `| ${s.memories} | ${pp('vector')} | ${pp('keyword')} | ${pp('hybrid')} | ${pp('keyword_exhaustive')} | ${pp('keyword_ts_rank')} | ${s.hnsw_recall_at_10} | ${s.filtered_recall_at_10_1pct} |`,
    );
  }
  lines.push('', '## LangChain PGVectorStore, same data and queries', '');
  lines.push(
    '| memories | insert/s (live HNSW) | vector p50/p95 ms | recall@10 | filtered recall@10 (1%) |',
    '|---|---|---|---|---|',
  );
  for (const s of report.sizes as unknown as SizeRow[]) {
    const lc = s.langchain_pgvector;
    if (lc === undefined) continue;
    const v = lc.vector_latency;
    lines.push(
      `| ${s.memories} | ${lc.insert_live_hnsw.per_second} | ${v.p50_ms} / ${v.p95_ms} | ${lc.hnsw_recall_at_10} | ${lc.filtered_recall_at_10_1pct} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
