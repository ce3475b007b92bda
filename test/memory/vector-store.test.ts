// The LangChain VectorStore over animus memories: documents in, similarity search and a
// retriever out, filters passed through, delete by id — with the real @langchain/core.
import { Document } from '@langchain/core/documents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnimusVectorStore, MemoryStore } from '../../src/memory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { FakeEmbeddings } from './fake-embeddings.js';

const DIMS = 512;
let db: TestDatabase;
let memories: MemoryStore;

beforeAll(async () => {
  db = await createTestDatabase({ embeddingDimensions: DIMS });
  memories = new MemoryStore({ pool: db.pool, embeddings: new FakeEmbeddings(DIMS), dimensions: DIMS });
});
afterAll(async () => {
  await db?.close();
});

describe(`AnimusVectorStore (${process.env.ANIMUS_TEST_DATABASE_URL ? 'server' : 'embedded'})`, () => {
  it('adds documents as memories and finds them through a retriever', async () => {
    const store = new AnimusVectorStore(memories, { memoryType: 'doc', source: 'langchain' });
    expect(store._vectorstoreType()).toBe('animus');
    const ids = await store.addDocuments([
      new Document({ pageContent: 'Postgres stores the memories.', metadata: { topic: 'db' } }),
      new Document({ pageContent: 'LangChain chains call the retriever.', metadata: { topic: 'llm' } }),
      new Document({ pageContent: 'An episodic note.', metadata: { memoryType: 'episodic', topic: 'note' } }),
    ]);
    expect(ids).toHaveLength(3);
    expect(await memories.get(ids[0]!)).toMatchObject({
      memoryType: 'doc',
      source: 'langchain',
      metadata: { topic: 'db' },
    });
    expect((await memories.get(ids[2]!)).memoryType).toBe('episodic');

    const [top] = await store.similaritySearchWithScore('LangChain chains call the retriever.', 1);
    expect(top![0].pageContent).toBe('LangChain chains call the retriever.');
    expect(top![0].id).toBe(ids[1]);
    expect(top![0].metadata).toMatchObject({ topic: 'llm', memoryType: 'doc', source: 'langchain' });
    expect(top![1]).toBeCloseTo(1, 5);

    const retriever = store.asRetriever({ k: 2, filter: { memoryType: 'episodic' } });
    const docs = await retriever.invoke('Postgres stores the memories.');
    expect(docs.map((d) => d.pageContent)).toEqual(['An episodic note.']);

    await store.delete({ ids: [ids[0]!] });
    expect(await memories.count()).toBe(2);
  });

  it('stores precomputed vectors with addVectors', async () => {
    const store = new AnimusVectorStore(memories);
    const v = Array.from({ length: DIMS }, (_, i) => (i === 9 ? 1 : 0));
    const [id] = await store.addVectors([v], [new Document({ pageContent: 'vector given' })]);
    const hits = await store.similaritySearchVectorWithScore(v, 1);
    expect(hits[0]![0].id).toBe(id);
    expect((await memories.get(id!)).memoryType).toBe('semantic');
  });
});
