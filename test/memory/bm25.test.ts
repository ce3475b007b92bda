// BM25 keyword ranking: scores on a tiny hand-computed corpus, the same scores as a reference
// implementation over the stored tsvectors, statistics kept right by every kind of write
// (concurrent stores, updates and deletes, rollbacks, truncate) compared with a from-scratch
// recomputation, and bounded against exhaustive ranking.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VOCAB } from '../../bench/lib/synthetic.js';
import { MemoryStore } from '../../src/memory/index.js';
import { createTestDatabase, type TestDatabase, testKind } from '../support/database.js';
import { FakeEmbeddings, seeded } from './fake-embeddings.js';

const DIMS = 8;
let db: TestDatabase;

function store(options: ConstructorParameters<typeof MemoryStore>[0] extends infer O ? Partial<O> : never) {
  return new MemoryStore({
    pool: db.pool,
    embeddings: new FakeEmbeddings(DIMS),
    dimensions: DIMS,
    ...options,
  });
}

/** A text of `n` pseudo-words drawn from the first `vocab` words of the benchmark vocabulary. */
function text(rand: () => number, n: number, vocab = 60): string {
  return Array.from({ length: n }, () => VOCAB[Math.floor(rand() ** 2 * vocab)]!).join(' ');
}

/** The statistics summed over slots, and the same recomputed from the memories themselves. */
async function statsAndTruth(q: pg.Pool | pg.PoolClient = db.pool) {
  const { rows: kept } = await q.query<{ lexeme: string; n: string }>(
    `SELECT lexeme, sum(documents)::text AS n FROM memory_lexeme_stats
     GROUP BY lexeme HAVING sum(documents) <> 0 ORDER BY lexeme`,
  );
  const { rows: truth } = await q.query<{ lexeme: string; n: string }>(
    `SELECT lexeme, count(*)::text AS n FROM memories, unnest(tsvector_to_array(tsv)) AS lexeme
     GROUP BY lexeme ORDER BY lexeme`,
  );
  const { rows: corpus } = await q.query<{ kept: string; truth: string }>(
    `SELECT (SELECT coalesce(sum(documents), 0) || '/' || coalesce(sum(lexemes), 0) FROM memory_corpus_stats) AS kept,
            (SELECT count(*) || '/' || coalesce(sum(length(tsv)), 0) FROM memories) AS truth`,
  );
  return { kept, truth, corpus: corpus[0]! };
}

async function expectStatsRight(): Promise<void> {
  const s = await statsAndTruth();
  expect(s.kept).toEqual(s.truth);
  expect(s.corpus.kept).toBe(s.corpus.truth);
}

/** Parses `tsv::text` ('cat':1,2 'dog':3) into lexeme → number of positions. */
function parseTsvector(raw: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of raw.matchAll(/'((?:[^']|'')*)'(?::([0-9A-D,]+))?/g)) {
    out.set(m[1]!.replaceAll("''", "'"), m[2] === undefined ? 1 : m[2].split(',').length);
  }
  return out;
}

beforeAll(async () => {
  db = await createTestDatabase({ embeddingDimensions: DIMS });
}, 120_000);
afterAll(async () => {
  await db?.close();
});

describe(`BM25 (${testKind})`, () => {
  it('scores a hand-computed corpus', async () => {
    await db.pool.query('TRUNCATE memories');
    await expectStatsRight();
    const s = store({});
    const [d1, d2, d3] = await s.store([
      { content: 'cat cat dog', memoryType: 'note' }, // cat tf 2, dl 2
      { content: 'dog bird', memoryType: 'note' }, // bird tf 1, dl 2
      { content: 'bird bird bird fish frog', memoryType: 'note' }, // bird tf 3, dl 3
    ]);
    // N = 3, avgdl = (2 + 2 + 3) / 3 = 7/3, k1 = 1.2, b = 0.75.
    // idf(cat)  = ln(1 + (3 − 1 + 0.5) / (1 + 0.5)) = ln(8/3) = 0.980829
    // idf(bird) = ln(1 + (3 − 2 + 0.5) / (2 + 0.5)) = ln(1.6) = 0.470004
    // d1: 0.980829 · 2 · 2.2 / (2 + 1.2 · (0.25 + 0.75 · 2 / (7/3))) = 1.405095
    // d3: 0.470004 · 3 · 2.2 / (3 + 1.2 · (0.25 + 0.75 · 3 / (7/3))) = 0.695967
    // d2: 0.470004 · 1 · 2.2 / (1 + 1.2 · (0.25 + 0.75 · 2 / (7/3))) = 0.499176
    const hits = await s.textSearch('cats and birds', { limit: 10 });
    expect(hits.map((h) => h.memory.id)).toEqual([d1!.id, d3!.id, d2!.id]);
    expect(hits[0]!.score).toBeCloseTo(1.405095, 5);
    expect(hits[1]!.score).toBeCloseTo(0.695967, 5);
    expect(hits[2]!.score).toBeCloseTo(0.499176, 5);
    // k1 and b are parameters: b = 0 drops length normalisation, k1 = 0 makes tf count once.
    const flat = await store({ bm25: { k1: 0, b: 0.75 } }).textSearch('cats and birds', { limit: 10 });
    expect(flat.map((h) => h.score)).toEqual([
      expect.closeTo(0.980829, 5),
      expect.closeTo(0.470004, 5),
      expect.closeTo(0.470004, 5),
    ]);
    // ts_rank stays available, ranking the same three rows.
    const tsRank = await store({ keywordRanking: 'ts_rank' }).textSearch('cats and birds', { limit: 10 });
    expect(new Set(tsRank.map((h) => h.memory.id))).toEqual(new Set([d1!.id, d2!.id, d3!.id]));
    await expectStatsRight();
  });

  it('rejects bad BM25 parameters and candidate budgets before any query', () => {
    expect(() => store({ bm25: { k1: -1 } })).toThrow(/bm25\.k1/);
    expect(() => store({ bm25: { b: 1.5 } })).toThrow(/bm25\.b.*0 to 1/);
    expect(() => store({ bm25: { b: Number.NaN } })).toThrow(/bm25\.b/);
    expect(() => store({ keywordCandidates: 0 })).toThrow(/keywordCandidates/);
    expect(() => store({ keywordCandidates: 2.5 })).toThrow(/keywordCandidates/);
  });

  it('gives the same scores as a reference implementation over the stored tsvectors', async () => {
    await db.pool.query('TRUNCATE memories');
    const rand = seeded(11);
    const s = store({ keywordCandidates: null });
    await s.store(
      Array.from({ length: 300 }, (_, i) => ({
        content: `${text(rand, 3 + Math.floor(rand() * 40))} doc${i}`,
        memoryType: 'note',
      })),
    );
    const { rows } = await db.pool.query<{ id: string; tsv: string }>(
      'SELECT id, tsv::text AS tsv FROM memories',
    );
    const docs = rows.map((r) => ({ id: r.id, tf: parseTsvector(r.tsv) }));
    const N = docs.length;
    const avgdl = docs.reduce((a, d) => a + d.tf.size, 0) / N;
    const df = new Map<string, number>();
    for (const d of docs) for (const l of d.tf.keys()) df.set(l, (df.get(l) ?? 0) + 1);
    for (let q = 0; q < 12; q++) {
      const query = text(rand, 2 + Math.floor(rand() * 6), 200);
      const { rows: lex } = await db.pool.query<{ l: string }>(
        "SELECT unnest(tsvector_to_array(to_tsvector('english', $1))) AS l",
        [query],
      );
      const terms = lex.map((r) => r.l).filter((l) => df.has(l));
      const expected = docs
        .map((d) => ({
          id: d.id,
          score: terms.reduce((sum, t) => {
            const tf = d.tf.get(t) ?? 0;
            if (tf === 0) return sum;
            const n = df.get(t)!;
            const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
            return sum + (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * d.tf.size) / avgdl));
          }, 0),
        }))
        .filter((d) => d.score > 0)
        .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
        .slice(0, 20);
      const hits = await s.textSearch(query, { limit: 20 });
      expect(hits.map((h) => h.score)).toEqual(expected.map((e) => expect.closeTo(e.score, 9)));
      // Ties may order either way only when scores are equal; ids agree wherever scores differ.
      hits.forEach((h, i) => {
        if (expected.filter((e) => Math.abs(e.score - h.score) < 1e-9).length === 1) {
          expect(h.memory.id).toBe(expected[i]!.id);
        }
      });
    }
  });

  it('bounded ranking agrees with exhaustive ranking', async () => {
    // Same corpus as above. A budget that covers every query lexeme gives the exhaustive
    // result exactly; a tight one ranks a subset, each hit with its exhaustive score, in
    // exhaustive order, and fills up to `limit` from the exhaustive ranking.
    const rand = seeded(12);
    const exhaustive = store({ keywordCandidates: null });
    const roomy = store({ keywordCandidates: 1_000_000 });
    const tight = store({ keywordCandidates: 15 });
    let boundedDiffered = 0;
    for (let q = 0; q < 12; q++) {
      const query = text(rand, 3 + Math.floor(rand() * 5), 120);
      const all = await exhaustive.textSearch(query, { limit: 1000 });
      const score = new Map(all.map((h) => [h.memory.id, h.score]));
      const top = await exhaustive.textSearch(query, { limit: 10 });
      expect((await roomy.textSearch(query, { limit: 10 })).map((h) => [h.memory.id, h.score])).toEqual(
        top.map((h) => [h.memory.id, h.score]),
      );
      const hits = await tight.textSearch(query, { limit: 10 });
      expect(hits).toHaveLength(Math.min(10, all.length));
      for (const h of hits) expect(h.score).toBeCloseTo(score.get(h.memory.id)!, 9);
      // The candidates in exhaustive order, then the fill-up in exhaustive order: at most one
      // place where the score goes up.
      const rises = hits.slice(1).filter((h, i) => h.score > hits[i]!.score + 1e-12).length;
      expect(rises).toBeLessThanOrEqual(1);
      if (hits.map((h) => h.memory.id).join() !== top.map((h) => h.memory.id).join()) boundedDiffered++;
    }
    // The tight budget really bounded something (else this test would show nothing).
    expect(boundedDiffered).toBeGreaterThan(0);
  });

  it('keeps the statistics right under concurrent stores, updates and deletes', async () => {
    await db.pool.query('TRUNCATE memories');
    const workers = testKind === 'server' ? 8 : 1;
    const pool = testKind === 'server' ? await db.newPool(workers) : db.pool;
    try {
      const s = new MemoryStore({ pool, embeddings: new FakeEmbeddings(DIMS), dimensions: DIMS });
      await Promise.all(
        Array.from({ length: workers * 2 }, async (_, w) => {
          const rand = seeded(100 + w);
          const mine: string[] = [];
          for (let op = 0; op < 25; op++) {
            const r = rand();
            if (r < 0.4 || mine.length < 3) {
              const stored = await s.store(
                Array.from({ length: 1 + Math.floor(rand() * 6) }, (_, i) => ({
                  content: `${text(rand, 5 + Math.floor(rand() * 20))} w${w} op${op} i${i}`,
                  memoryType: 'note',
                })),
              );
              mine.push(...stored.map((x) => x.id));
            } else if (r < 0.6) {
              const id = mine[Math.floor(rand() * mine.length)]!;
              await s.update(id, { content: `${text(rand, 8)} w${w} op${op} updated` });
            } else if (r < 0.7) {
              const id = mine[Math.floor(rand() * mine.length)]!;
              await s.update(id, { metadata: { op } }); // no tsvector change
            } else if (r < 0.85) {
              const id = mine.splice(Math.floor(rand() * mine.length), 1)[0]!;
              expect(await s.delete(id)).toBe(1);
            } else {
              // A store whose transaction rolls back leaves no trace in the statistics.
              const client = await pool.connect();
              try {
                await client.query('BEGIN');
                await s.store(
                  [{ content: `${text(rand, 10)} w${w} op${op} rolled back`, memoryType: 'note' }],
                  {
                    tx: client,
                  },
                );
                await client.query('ROLLBACK');
              } finally {
                client.release();
              }
            }
          }
        }),
      );
      await expectStatsRight();
      // A bulk metadata update (every row) moves nothing; deleting everything empties them.
      await pool.query(`UPDATE memories SET metadata = '{"all": true}'`);
      await expectStatsRight();
      await pool.query('DELETE FROM memories');
      await expectStatsRight();
      const { rows } = await pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM memory_lexeme_stats GROUP BY lexeme HAVING sum(documents) <> 0',
      );
      expect(rows).toHaveLength(0);
    } finally {
      if (pool !== db.pool) await pool.end();
    }
  }, 120_000);

  it('rebuilds the statistics from scratch into one slot', async () => {
    const s = store({});
    await s.store([
      { content: 'alpha beta gamma', memoryType: 'note' },
      { content: 'beta gamma delta', memoryType: 'note' },
    ]);
    await db.pool.query('SELECT animus_stats_rebuild()');
    await expectStatsRight();
    const { rows } = await db.pool.query<{ slots: string }>(
      'SELECT count(DISTINCT slot) AS slots FROM memory_corpus_stats',
    );
    expect(Number(rows[0]!.slots)).toBe(1);
  });
});
