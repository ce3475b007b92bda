// A store whose embedding provider fails part-way (the real OpenAI client, batch by batch,
// against a local server) writes nothing: embedding finishes before any row is inserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { createEmbeddings } from '../../src/llm/index.js';
import { MemoryStore } from '../../src/memory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { fakeEmbedding, startOpenAIServer, type OpenAITestServer } from '../support/openai-server.js';

const DIMS = 32;
let db: TestDatabase;
let server: OpenAITestServer;

beforeAll(async () => {
  db = await createTestDatabase({ embeddingDimensions: DIMS });
  server = await startOpenAIServer();
});
afterAll(async () => {
  await server?.close();
  await db?.close();
});

describe(`a failing embedding provider (${process.env.ANIMUS_TEST_DATABASE_URL ? 'server' : 'embedded'})`, () => {
  it('leaves nothing half-stored, and the same store succeeds once it recovers', async () => {
    const config = resolveConfig({
      embedding: { provider: 'openai', model: 'embed-small', dimensions: DIMS },
      openai: { baseUrl: server.url },
    });
    const memories = new MemoryStore({
      pool: db.pool,
      embeddings: createEmbeddings(config, { batchSize: 2, maxRetries: 0 }),
      dimensions: DIMS,
    });
    const entries = ['one', 'two', 'three', 'four', 'five'].map((w) => ({
      content: `memory ${w}`,
      memoryType: 'semantic',
    }));
    // Three batch requests go out; the one holding 'memory three' fails, the others succeed.
    server.setEmbedder((text, dims) => {
      if (text === 'memory three') throw new Error('model crashed');
      return fakeEmbedding(text, dims);
    });
    const err = await memories.store(entries).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROVIDER_FAILED', provider: 'openai', model: 'embed-small' });
    expect(server.requests.filter((r) => r.status === 200).length).toBeGreaterThan(0);
    expect(await memories.count()).toBe(0);

    server.setEmbedder(fakeEmbedding);
    const stored = await memories.store(entries);
    expect(stored.every((s) => s.created)).toBe(true);
    expect(await memories.count()).toBe(5);
  });

  it('fails cleanly when the provider is unreachable', async () => {
    const config = resolveConfig({
      embedding: { provider: 'openai', model: 'embed-small', dimensions: DIMS },
      openai: { baseUrl: 'http://127.0.0.1:9/v1' },
    });
    const memories = new MemoryStore({
      pool: db.pool,
      embeddings: createEmbeddings(config, { maxRetries: 0 }),
      dimensions: DIMS,
    });
    const before = await memories.count();
    await expect(memories.store([{ content: 'never stored', memoryType: 'semantic' }])).rejects.toMatchObject(
      {
        code: 'PROVIDER_FAILED',
      },
    );
    expect(await memories.count()).toBe(before);
  });
});
