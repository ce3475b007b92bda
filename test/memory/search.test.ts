// Vector, keyword and hybrid search against real Postgres: filtered vector search checked
// against brute force at 1% selectivity, OR semantics of keyword search, and the fusion
// arithmetic on a hand-checked example.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, type MemoryEntry } from '../../src/memory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { cosineDistance, FakeEmbeddings, randomUnit, seeded } from './fake-embeddings.js';

const DIMS = 512;
const N = 2000;
let db: TestDatabase;
let memories: MemoryStore;
const rows: { id: string; vector: number[]; type: string; source: string; group: number; ageMin: number }[] =
  [];

function bruteForce(query: number[], keep: (r: (typeof rows)[number]) => boolean, k: number): string[] {
  return rows
    .filter(keep)
    .map((r) => ({ id: r.id, d: cosineDistance(query, r.vector) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, k)
    .map((r) => r.id);
}

function recall(got: string[], truth: string[]): number {
  const t = new Set(truth);
  return got.filter((id) => t.has(id)).length / truth.length;
}

beforeAll(async () => {
  db = await createTestDatabase({ embeddingDimensions: DIMS });
  memories = new MemoryStore({ pool: db.pool, embeddings: new FakeEmbeddings(DIMS), dimensions: DIMS });
  const rand = seeded(42);
  const entries: MemoryEntry[] = [];
  for (let i = 0; i < N; i++) {
    const vector = randomUnit(rand, DIMS);
    const type = i % 100 === 7 ? 'rare' : 'common';
    const source = i % 2 === 0 ? 'even' : 'odd';
    entries.push({
      content: `memory number ${i}`,
      memoryType: type,
      source,
      metadata: { group: i % 10 },
      embedding: vector,
    });
    rows.push({ id: '', vector, type, source, group: i % 10, ageMin: i });
  }
  const stored = await memories.store(entries);
  stored.forEach((s, i) => (rows[i]!.id = s.id));
  // Spread creation times: memory i was created i minutes ago.
  await db.pool.query(
    `UPDATE memories m SET created_at = now() - make_interval(mins => a.age)
     FROM unnest($1::uuid[], $2::int[]) AS a(id, age) WHERE m.id = a.id`,
    [rows.map((r) => r.id), rows.map((r) => r.ageMin)],
  );
}, 300_000);
afterAll(async () => {
  await db?.close();
});

describe(`search (${process.env.ANIMUS_TEST_DATABASE_URL ? 'server' : 'embedded'})`, () => {
  it('vector search agrees with brute force', async () => {
    const rand = seeded(7);
    let total = 0;
    for (let q = 0; q < 5; q++) {
      const query = randomUnit(rand, DIMS);
      const hits = await memories.search(query, { limit: 10 });
      expect(hits).toHaveLength(10);
      const d = hits.map((h) => h.distance);
      expect([...d].sort((a, b) => a - b)).toEqual(d);
      expect(hits[0]!.score).toBeCloseTo(1 - hits[0]!.distance, 10);
      total += recall(
        hits.map((h) => h.memory.id),
        bruteForce(query, () => true, 10),
      );
    }
    expect(total / 5).toBeGreaterThanOrEqual(0.9);
  });

  it('a 1%-selective filter still returns limit rows, matching brute force', async () => {
    const rand = seeded(8);
    let total = 0;
    for (let q = 0; q < 5; q++) {
      const query = randomUnit(rand, DIMS);
      const hits = await memories.search(query, { limit: 10, filters: { memoryType: 'rare' } });
      expect(hits).toHaveLength(10);
      expect(hits.every((h) => h.memory.memoryType === 'rare')).toBe(true);
      total += recall(
        hits.map((h) => h.memory.id),
        bruteForce(query, (r) => r.type === 'rare', 10),
      );
    }
    expect(total / 5).toBeGreaterThanOrEqual(0.9);
    // Fewer matches than the limit: all of them, exactly.
    const query = randomUnit(rand, DIMS);
    const few = await memories.search(query, {
      limit: 50,
      filters: { memoryType: ['rare'], source: 'odd', metadata: { group: 7 } },
    });
    const truth = bruteForce(query, (r) => r.type === 'rare' && r.source === 'odd' && r.group === 7, 50);
    expect(few.map((h) => h.memory.id)).toEqual(truth);
  });

  it('combines type, source, metadata and created-at filters like brute force', async () => {
    const query = randomUnit(seeded(9), DIMS);
    const { rows: nowRow } = await db.pool.query<{ now: Date }>('SELECT now() AS now');
    const now = nowRow[0]!.now.getTime();
    const after = new Date(now - 600.5 * 60_000);
    const before = new Date(now - 99.5 * 60_000);
    const filters = {
      memoryType: ['common', 'rare'],
      source: 'even',
      metadata: { group: 4 },
      createdAfter: after,
      createdBefore: before,
    };
    const keep = (r: (typeof rows)[number]) =>
      r.source === 'even' && r.group === 4 && r.ageMin >= 100 && r.ageMin <= 600;
    const hits = await memories.search(query, { limit: 100, filters });
    const truth = bruteForce(query, keep, 100);
    expect(truth.length).toBe(50);
    expect(hits.map((h) => h.memory.id).sort()).toEqual([...truth].sort());
    expect(await memories.count(filters)).toBe(50);
    const text = await memories.textSearch('memory number', {
      limit: 100,
      filters: { ...filters, createdAfter: after.toISOString() },
    });
    expect(text.map((h) => h.memory.id).sort()).toEqual([...truth].sort());
  });

  it('keyword search ORs the lexemes of a whole-sentence query', async () => {
    const store = new MemoryStore({ pool: db.pool, embeddings: new FakeEmbeddings(DIMS), dimensions: DIMS });
    await store.store([
      { content: 'Vitamin B12 deficiency raises homocysteine levels in blood.', memoryType: 'kw' },
      { content: 'Homocysteine is an amino acid.', memoryType: 'kw' },
      { content: 'The weather in Lisbon is mild.', memoryType: 'kw' },
    ]);
    const hits = await store.textSearch(
      'A deficiency of vitamin B12 increases blood levels of homocysteine.',
      {
        filters: { memoryType: 'kw' },
      },
    );
    expect(hits.map((h) => h.memory.content)).toEqual([
      'Vitamin B12 deficiency raises homocysteine levels in blood.',
      'Homocysteine is an amino acid.',
    ]);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(await store.textSearch('the of and', { filters: { memoryType: 'kw' } })).toEqual([]);
  });

  it('hybrid search fuses both sides by weighted reciprocal rank (hand-checked)', async () => {
    const axis = (a: number, b: number) =>
      Array.from({ length: DIMS }, (_, i) => (i === 0 ? a : i === 1 ? b : 0));
    const [d1, d2, d3] = await memories.store([
      { content: 'apple banana', memoryType: 'fusion', embedding: axis(0.8, 0.6) },
      { content: 'apple', memoryType: 'fusion', embedding: axis(0, 1) },
      { content: 'cherry', memoryType: 'fusion', embedding: axis(1, 0) },
    ]);
    const hits = await memories.hybridSearch({
      text: 'apple banana',
      embedding: axis(1, 0),
      filters: { memoryType: 'fusion' },
      fusion: { vector: 1, keyword: 0.5, k: 10 },
    });
    // vector ranks: d3 (distance 0), d1 (0.2), d2 (1); keyword ranks: d1 (both words), d2.
    expect(hits.map((h) => h.memory.id)).toEqual([d1!.id, d2!.id, d3!.id]);
    expect(hits.map((h) => [h.vectorRank, h.keywordRank])).toEqual([
      [2, 1],
      [3, 2],
      [1, null],
    ]);
    expect(hits[0]!.score).toBeCloseTo(1 / 12 + 0.5 / 11, 12); // 0.128788
    expect(hits[1]!.score).toBeCloseTo(1 / 13 + 0.5 / 12, 12); // 0.118590
    expect(hits[2]!.score).toBeCloseTo(1 / 11, 12); // 0.090909
    expect(hits[0]!.vectorScore).toBeCloseTo(0.8, 6);
    expect(hits[2]!.keywordScore).toBeNull();
    // Keyword weight 0: the vector order alone.
    const dense = await memories.hybridSearch({
      text: 'apple banana',
      embedding: axis(1, 0),
      filters: { memoryType: 'fusion' },
      fusion: { keyword: 0 },
      limit: 2,
    });
    expect(dense.map((h) => h.memory.id)).toEqual([d3!.id, d1!.id]);
  });

  it('hybrid search embeds the text when no embedding is given', async () => {
    const hits = await memories.hybridSearch({
      text: 'memory number 1234',
      limit: 5,
      filters: { memoryType: 'common' },
    });
    expect(hits).toHaveLength(5);
    expect(hits[0]!.keywordRank).not.toBeNull();
  });
  it('bounds keyword candidates to rows holding the rarest query lexemes, filling up to limit', async () => {
    // 'memori' and 'number' are in every row; '1234' in one; 'zebra' in none.
    const { rows: terms } = await db.pool.query<{ lexeme: string; df: string; selects: boolean }>(
      "SELECT lexeme, df, selects FROM animus_bm25_terms('memory number 1234 zebra', 10)",
    );
    expect(terms.map((t) => [t.lexeme, Number(t.df), t.selects])).toEqual([
      ['1234', 1, true],
      ['memori', N, false],
      ['number', N, false],
    ]);
    const { rows: all } = await db.pool.query<{ lexeme: string; selects: boolean }>(
      "SELECT lexeme, selects FROM animus_bm25_terms('memory number', 10)",
    );
    // The rarest lexeme always selects, whatever its frequency; NULL budget: every lexeme.
    expect(all.filter((t) => t.selects)).toHaveLength(1);
    const { rows: every } = await db.pool.query<{ selects: boolean }>(
      "SELECT selects FROM animus_bm25_terms('memory number', NULL)",
    );
    expect(every.map((t) => t.selects)).toEqual([true, true]);
    const boundedStore = new MemoryStore({
      pool: db.pool,
      embeddings: new FakeEmbeddings(DIMS),
      dimensions: DIMS,
      keywordCandidates: 10,
    });
    // The bounded set alone holds one row; asking for 10 still gives 10: that row first, then
    // the best of every other match.
    const one = await boundedStore.textSearch('memory number 1234', { limit: 1 });
    expect(one.map((h) => h.memory.content)).toEqual(['memory number 1234']);
    const bounded = await boundedStore.textSearch('memory number 1234', { limit: 10 });
    expect(bounded).toHaveLength(10);
    expect(bounded[0]!.memory.content).toBe('memory number 1234');
    const exhaustive = new MemoryStore({
      pool: db.pool,
      embeddings: new FakeEmbeddings(DIMS),
      dimensions: DIMS,
      keywordCandidates: null,
    });
    const hits = await exhaustive.textSearch('memory number 1234', { limit: 10 });
    expect(hits).toHaveLength(10);
    expect(hits[0]!.memory.content).toBe('memory number 1234');
    expect(hits.map((h) => h.score)).toEqual(bounded.map((h) => h.score));
  });
});
