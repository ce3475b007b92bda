// MemoryStore against real Postgres (embedded or server): store/get/update/delete/count,
// idempotency, the caller's transaction, and every kind of bad input rejected by field
// name with nothing written.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/errors/index.js';
import { LOCAL_MODEL, LocalEmbeddings } from '../../src/llm/index.js';
import { defaultFusion, EQUAL_FUSION, LOCAL_MODEL_FUSION, MemoryStore } from '../../src/memory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { FakeEmbeddings } from './fake-embeddings.js';

const DIMS = 512;
let db: TestDatabase;
let embeddings: FakeEmbeddings;
let memories: MemoryStore;

beforeAll(async () => {
  db = await createTestDatabase({ embeddingDimensions: DIMS });
  embeddings = new FakeEmbeddings(DIMS);
  memories = new MemoryStore({ pool: db.pool, embeddings, dimensions: DIMS });
});
afterAll(async () => {
  await db?.close();
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE memories');
  embeddings.failWith = undefined;
});

describe(`memory store (${process.env.ANIMUS_TEST_DATABASE_URL ? 'server' : 'embedded'})`, () => {
  it('stores, gets, and stores the same content, type and source only once', async () => {
    const first = await memories.store([
      {
        content: 'The cat sat on the mat.',
        memoryType: 'episodic',
        source: 'chat-1',
        metadata: { mood: 'calm' },
      },
      { content: 'Paris is the capital of France.', memoryType: 'semantic' },
    ]);
    expect(first.map((r) => r.created)).toEqual([true, true]);
    const got = await memories.get(first[0]!.id);
    expect(got).toMatchObject({
      content: 'The cat sat on the mat.',
      memoryType: 'episodic',
      source: 'chat-1',
      metadata: { mood: 'calm' },
    });
    expect(got.createdAt).toBeInstanceOf(Date);

    const embeddedBefore = embeddings.embeddedTexts;
    const again = await memories.store([
      { content: 'Paris is the capital of France.', memoryType: 'semantic' },
      { content: 'Paris is the capital of France.', memoryType: 'semantic', source: 'atlas' },
      { content: 'Paris is the capital of France.', memoryType: 'semantic', source: 'atlas' },
      { content: 'The cat sat on the mat.', memoryType: 'episodic', source: 'chat-1' },
    ]);
    expect(again[0]).toEqual({ id: first[1]!.id, created: false });
    expect(again[1]!.created).toBe(true);
    expect(again[2]).toEqual({ id: again[1]!.id, created: false });
    expect(again[3]).toEqual({ id: first[0]!.id, created: false });
    // Only the one new identity was embedded.
    expect(embeddings.embeddedTexts - embeddedBefore).toBe(1);
    expect(await memories.count()).toBe(3);
  });

  it('keeps the stored embedding and accepts precomputed ones', async () => {
    const v = Array.from({ length: DIMS }, (_, i) => (i === 3 ? 1 : 0));
    const [r] = await memories.store([{ content: 'given vector', memoryType: 'semantic', embedding: v }]);
    const stored = await memories.getEmbedding(r!.id);
    expect(stored).toHaveLength(DIMS);
    expect(stored[3]).toBeCloseTo(1, 6);
  });

  it('sends vectors in binary and keeps every number as its 4-byte float', async () => {
    // Awkward values: signs, a subnormal, the float4 extremes, and doubles that round.
    const special = [-0.5, 1e-40, 3.4028234663852886e38, -1.1754943508222875e-38, 0.1, 1 / 3, -2.5e-7];
    const vectors = [0, 1, 2].map((k) =>
      Array.from({ length: DIMS }, (_, i) => special[(i + k) % special.length]! * (i % 2 ? 1 : -1)),
    );
    const stored = await memories.store(
      vectors.map((embedding, k) => ({ content: `binary vector ${k}`, memoryType: 'semantic', embedding })),
    );
    for (const [k, r] of stored.entries()) {
      // pgvector prints the shortest decimal that reads back as the same 4-byte float.
      const got = (await memories.getEmbedding(r.id)).map((x) => Math.fround(x));
      expect(got).toEqual(vectors[k]!.map((x) => Math.fround(x)));
    }
    // The server's own text form of the stored vector agrees (no client-side parsing involved).
    const { rows } = await db.pool.query<{ first: string }>(
      "SELECT split_part(btrim(embedding::text, '[]'), ',', 1) AS first FROM memories WHERE id = $1",
      [stored[1]!.id],
    );
    expect(Math.fround(Number(rows[0]!.first))).toBe(Math.fround(vectors[1]![0]!));
    // A binary query vector finds its own memory first, at distance 0 (the extremes above
    // overflow a cosine's norms, so this one has ordinary numbers).
    const ordinary = Array.from({ length: DIMS }, (_, i) => Math.sin(i + 1) / 3);
    const [own] = await memories.store([
      { content: 'ordinary', memoryType: 'semantic', embedding: ordinary },
    ]);
    const hits = await memories.search(ordinary, { limit: 1 });
    expect(hits[0]!.memory.id).toBe(own!.id);
    expect(hits[0]!.distance).toBeCloseTo(0, 6);
  });

  it('stores precomputed embeddings once per identity without looking them up first', async () => {
    const v = (k: number) => Array.from({ length: DIMS }, (_, i) => Math.cos(i * k + 1));
    const first = await memories.store([
      { content: 'given one', memoryType: 'semantic', embedding: v(1) },
      { content: 'given two', memoryType: 'semantic', embedding: v(2) },
    ]);
    const calls = embeddings.calls;
    const again = await memories.store([
      { content: 'given two', memoryType: 'semantic', embedding: v(9) },
      { content: 'given three', memoryType: 'semantic', embedding: v(3) },
      { content: 'given three', memoryType: 'semantic', embedding: v(3) },
      { content: 'given one', memoryType: 'semantic', embedding: v(1) },
      { content: 'given one', memoryType: 'other', embedding: v(4) },
    ]);
    expect(again[0]).toEqual({ id: first[1]!.id, created: false });
    expect(again[1]!.created).toBe(true);
    expect(again[2]).toEqual({ id: again[1]!.id, created: false });
    expect(again[3]).toEqual({ id: first[0]!.id, created: false });
    expect(again[4]!.created).toBe(true);
    expect(new Set(again.map((r) => r.id)).size).toBe(4);
    expect(embeddings.calls).toBe(calls);
    expect(await memories.count()).toBe(4);
    // The stored identity keeps its first embedding.
    const kept = await memories.getEmbedding(first[1]!.id);
    expect(kept.map((x) => Math.fround(x))).toEqual(v(2).map((x) => Math.fround(x)));
  });

  it("writes inside the caller's transaction and rolls back with it", async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const [r] = await memories.store([{ content: 'in a transaction', memoryType: 'episodic' }], {
        tx: client,
      });
      expect((await memories.get(r!.id, { tx: client })).content).toBe('in a transaction');
      expect(await memories.count(undefined, { tx: client })).toBe(1);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await memories.count()).toBe(0);
  });

  it('updates fields, re-embeds new content, and refuses to duplicate another memory', async () => {
    const [a, b] = await memories.store([
      { content: 'alpha', memoryType: 'semantic' },
      { content: 'beta', memoryType: 'semantic' },
    ]);
    const before = await memories.getEmbedding(a!.id);
    const updated = await memories.update(a!.id, {
      content: 'alpha prime',
      metadata: { v: 2 },
      source: 'edit',
    });
    expect(updated).toMatchObject({ content: 'alpha prime', metadata: { v: 2 }, source: 'edit' });
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(updated.createdAt.getTime());
    const after = await memories.getEmbedding(a!.id);
    expect(after).not.toEqual(before);
    const expected = await embeddings.embedQuery('alpha prime');
    expect(after[0]).toBeCloseTo(expected[0]!, 5);
    // Metadata-only change keeps the embedding.
    await memories.update(a!.id, { metadata: { v: 3 } });
    expect((await memories.getEmbedding(a!.id))[0]).toBeCloseTo(expected[0]!, 5);

    await expect(memories.update(b!.id, { content: 'alpha prime', source: 'edit' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'patch',
    });
    await expect(memories.update(b!.id, {})).rejects.toBeInstanceOf(ValidationError);
    await expect(memories.update(b!.id, { colour: 'red' } as never)).rejects.toMatchObject({
      field: 'patch.colour',
    });
    await expect(
      memories.update('00000000-0000-0000-0000-000000000000', { source: 'x' }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('deletes one or many and reports how many existed', async () => {
    const rows = await memories.store([
      { content: 'one', memoryType: 't' },
      { content: 'two', memoryType: 't' },
      { content: 'three', memoryType: 't' },
    ]);
    expect(await memories.delete(rows[0]!.id)).toBe(1);
    expect(await memories.delete([rows[0]!.id, rows[1]!.id, rows[2]!.id])).toBe(2);
    await expect(memories.get(rows[1]!.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(memories.get('not-a-uuid')).rejects.toMatchObject({ field: 'id' });
    expect(await memories.count()).toBe(0);
  });

  it('rejects bad entries by field name, before embedding or writing anything', async () => {
    await memories.store([{ content: 'already here', memoryType: 'semantic' }]);
    const calls = embeddings.calls;
    const nan = Array.from({ length: DIMS }, () => 0.1);
    nan[7] = Number.NaN;
    const huge = Array.from({ length: DIMS }, () => 0.1);
    huge[9] = -1e39; // finite as a double, beyond a 4-byte float
    const cases: [unknown, string][] = [
      [[{ content: '', memoryType: 'semantic' }], 'entries[0].content'],
      [
        [
          { content: 'ok', memoryType: 's' },
          { content: ' \n\t ', memoryType: 'semantic' },
        ],
        'entries[1].content',
      ],
      [[{ content: 'ok', memoryType: '' }], 'entries[0].memoryType'],
      [[{ content: 'ok', memoryType: 's', embedding: [1, 2, 3] }], 'entries[0].embedding'],
      [[{ content: 'ok', memoryType: 's', embedding: nan }], 'entries[0].embedding[7]'],
      [[{ content: 'ok', memoryType: 's', embedding: huge }], 'entries[0].embedding[9]'],
      [[{ content: 'ok', memoryType: 's', metadata: ['a'] }], 'entries[0].metadata'],
      [[{ content: 'ok', memoryType: 's', metadata: 'x' }], 'entries[0].metadata'],
      [[{ content: 'ok', memoryType: 's', metadata: { n: Infinity } }], 'entries[0].metadata.n'],
      [[{ content: 'nul \u0000 byte', memoryType: 's' }], 'entries[0].content'],
      [[{ content: 'ok', memoryType: 's', colour: 'red' }], 'entries[0].colour'],
      ['not an array', 'entries'],
    ];
    for (const [entries, field] of cases) {
      await expect(memories.store(entries as never), field).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        field,
      });
    }
    expect(embeddings.calls).toBe(calls);
    expect(await memories.count()).toBe(1);
  });

  it('stores nothing when the embedding provider fails', async () => {
    embeddings.failWith = FakeEmbeddings.providerDown();
    await expect(
      memories.store([
        { content: 'first of a batch', memoryType: 'semantic' },
        {
          content: 'second of a batch',
          memoryType: 'semantic',
          embedding: Array.from({ length: DIMS }, () => 0.5),
        },
      ]),
    ).rejects.toMatchObject({ code: 'PROVIDER_FAILED', provider: 'fake', model: 'fake-model' });
    expect(await memories.count()).toBe(0);
  });

  it('treats hostile strings in metadata keys and filter values as plain data', async () => {
    const hostile = "x'); DROP TABLE memories; --";
    const [r] = await memories.store([
      { content: 'hostile metadata', memoryType: hostile, source: hostile, metadata: { [hostile]: hostile } },
    ]);
    expect(await memories.count({ metadata: { [hostile]: hostile } })).toBe(1);
    expect(await memories.count({ memoryType: hostile, source: [hostile] })).toBe(1);
    expect(await memories.count({ memoryType: "' OR 1=1 --" })).toBe(0);
    const hits = await memories.textSearch(`${hostile} hostile & | ! :* ( metadata`);
    expect(hits.map((h) => h.memory.id)).toEqual([r!.id]);
  });

  it('rejects bad search options by field name', async () => {
    const v = Array.from({ length: DIMS }, () => 0.1);
    await expect(memories.search(v, { limit: 0 })).rejects.toMatchObject({ field: 'limit' });
    await expect(memories.search(v, { limit: 1001 })).rejects.toMatchObject({ field: 'limit', limit: 1000 });
    await expect(memories.search(v, { limit: 2.5 })).rejects.toMatchObject({ field: 'limit' });
    await expect(memories.search([1, 2], {})).rejects.toMatchObject({ field: 'query' });
    await expect(memories.search('  ', {})).rejects.toMatchObject({ field: 'query' });
    await expect(memories.textSearch('x', { filters: { colour: 'red' } as never })).rejects.toMatchObject({
      field: 'filters.colour',
    });
    await expect(memories.count({ metadata: [1] as never })).rejects.toMatchObject({
      field: 'filters.metadata',
    });
    await expect(memories.count({ createdAfter: 'yesterday' })).rejects.toMatchObject({
      field: 'filters.createdAfter',
    });
    await expect(memories.count({ memoryType: [] })).rejects.toMatchObject({ field: 'filters.memoryType' });
    await expect(memories.hybridSearch({ text: 'x', limit: 20, candidates: 10 })).rejects.toMatchObject({
      field: 'candidates',
    });
    await expect(memories.hybridSearch({ text: 'x', fusion: { k: -1 } })).rejects.toMatchObject({
      field: 'fusion.k',
    });
    await expect(
      memories.hybridSearch({ text: 'x', embedding: [Number.POSITIVE_INFINITY] }),
    ).rejects.toMatchObject({
      field: 'embedding',
    });
  });
  it('picks the local-model fusion for the bundled model, also behind a wrapper exposing model', () => {
    expect(defaultFusion(new LocalEmbeddings())).toEqual(LOCAL_MODEL_FUSION);
    const wrapped = Object.assign(new FakeEmbeddings(DIMS), { model: LOCAL_MODEL });
    expect(defaultFusion(wrapped as unknown as FakeEmbeddings)).toEqual(LOCAL_MODEL_FUSION);
    expect(defaultFusion(embeddings)).toEqual(EQUAL_FUSION);
    expect(memories.fusion).toEqual(EQUAL_FUSION);
  });
});
