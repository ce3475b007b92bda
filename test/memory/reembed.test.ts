// Re-embedding to a new model and dimension: the start-up check fails before and passes
// after; an interrupted run resumes from where it stopped; the swap leaves a working HNSW
// index of the new dimension; memories keep their ids and content.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEmbeddingDimensions } from '../../src/db/migrate.js';
import { SchemaMismatchError } from '../../src/errors/index.js';
import {
  MemoryStore,
  planReembed,
  REEMBED_WORK_TYPE,
  reembedHandler,
  startReembed,
} from '../../src/memory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { FakeEmbeddings } from './fake-embeddings.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ embeddingDimensions: 8 });
});
afterAll(async () => {
  await db?.close();
});

function context(stopAfterBeats = Infinity) {
  const controller = new AbortController();
  let beats = 0;
  return {
    signal: controller.signal,
    get beats() {
      return beats;
    },
    async heartbeat() {
      beats += 1;
      if (beats >= stopAfterBeats) controller.abort(new Error('worker stopping'));
    },
  };
}

describe(`memory reembed (${process.env.ANIMUS_TEST_DATABASE_URL ? 'server' : 'embedded'})`, () => {
  it('moves every memory to a new dimension, resuming after an interruption', async () => {
    const old = new MemoryStore({ pool: db.pool, embeddings: new FakeEmbeddings(8), dimensions: 8 });
    const stored = await old.store(
      Array.from({ length: 25 }, (_, i) => ({ content: `fact number ${i}`, memoryType: 'semantic' })),
    );
    await expect(checkEmbeddingDimensions(db.pool, 16)).rejects.toBeInstanceOf(SchemaMismatchError);

    const next = new FakeEmbeddings(16);
    const store = new MemoryStore({ pool: db.pool, embeddings: next, dimensions: 16 });
    const target = { dimensions: 16, model: 'fake-model-16' };
    expect(await planReembed(db.pool, target)).toMatchObject({
      storedDimensions: 8,
      total: 25,
      done: 0,
      resuming: false,
    });
    const submission = await startReembed(db.pool, target, { batchSize: 10 });
    expect(submission).toMatchObject({
      workType: REEMBED_WORK_TYPE,
      params: { dimensions: 16, batchSize: 10 },
    });

    const handler = reembedHandler(store);
    const item = { id: 'w1', params: submission.params };
    const first = context(1);
    await expect(handler(item, first)).rejects.toThrow('worker stopping');
    expect(await planReembed(db.pool, target)).toMatchObject({ done: 10, resuming: true });
    // Starting again for the same target keeps the progress.
    await startReembed(db.pool, target, { batchSize: 10 });
    // A content edit during the run (by a process on the old model) is re-embedded again.
    const { rows: doneRows } = await db.pool.query<{ id: string }>(
      'SELECT id FROM memories WHERE embedding_next IS NOT NULL AND id <> ALL ($1::uuid[]) LIMIT 1',
      [[stored[3]!.id, stored[7]!.id]],
    );
    const edited = doneRows[0]!.id;
    await old.update(edited, { content: 'an edited fact' });

    const embeddedBefore = next.embeddedTexts;
    const result = await handler(item, context());
    expect(result).toEqual({ reembedded: 16, dimensions: 16, model: 'fake-model-16' });
    expect(next.embeddedTexts - embeddedBefore).toBe(16);
    expect((await store.getEmbedding(edited))[5]).toBeCloseTo(
      (await next.embedQuery('an edited fact'))[5]!,
      5,
    );

    await checkEmbeddingDimensions(db.pool, 16);
    expect(await store.getEmbedding(stored[3]!.id)).toHaveLength(16);
    expect((await store.get(stored[3]!.id)).content).toBe('fact number 3');
    const query = await next.embedQuery('fact number 7');
    const hits = await store.search(query, { limit: 3 });
    expect(hits[0]!.memory.id).toBe(stored[7]!.id);
    expect(hits[0]!.distance).toBeCloseTo(0, 5);
    const { rows } = await db.pool.query<{ def: string }>(
      "SELECT indexdef AS def FROM pg_indexes WHERE indexname = 'memories_embedding_hnsw'",
    );
    expect(rows[0]?.def).toContain('hnsw');
    expect(await planReembed(db.pool, target)).toMatchObject({ storedDimensions: 16, resuming: false });
    // New memories go in at the new dimension.
    expect((await store.store([{ content: 'after the swap', memoryType: 'semantic' }]))[0]!.created).toBe(
      true,
    );
  });

  it('refuses an item for another dimension or a superseded target, for good', async () => {
    const store = new MemoryStore({ pool: db.pool, embeddings: new FakeEmbeddings(16), dimensions: 16 });
    const handler = reembedHandler(store);
    await expect(
      handler({ id: 'w', params: { dimensions: 32, model: 'm' } }, context()),
    ).rejects.toMatchObject({
      code: 'PERMANENT_FAILURE',
    });
    await expect(
      handler({ id: 'w', params: { dimensions: 16, model: 'nobody-started-me' } }, context()),
    ).rejects.toMatchObject({
      code: 'PERMANENT_FAILURE',
    });
    await expect(handler({ id: 'w', params: 'junk' }, context())).rejects.toMatchObject({
      code: 'PERMANENT_FAILURE',
    });
  });
});
