// Memory-operation spans on a real database: MemoryStore with the telemetry hooks yields
// GenAI memory spans (`create_memory`, `search_memory`, `update_memory`, `delete_memory`,
// kind INTERNAL, store id `memories`, record counts) with the embeddings span nested inside;
// query text appears only with content capture on; errors are marked and rethrown.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Embeddings } from '@langchain/core/embeddings';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/index.js';
import { MemoryStore } from '../../src/memory/index.js';
import {
  createMemoryTelemetry,
  instrumentEmbeddings,
  LOCAL_PROVIDER_NAME,
  setContentCapture,
  withMemorySpan,
} from '../../src/telemetry/index.js';
import { createTestDatabase, type TestDatabase, testKind } from '../support/database.js';
import { installTestOtel } from './support/otel.js';

const DIMS = 8;
const otel = installTestOtel();
let db: TestDatabase;
let store: MemoryStore;

/** A deterministic bag-of-letters embedding, enough to rank related texts together. */
class LetterEmbeddings extends Embeddings {
  constructor() {
    super({});
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.#embed(t));
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.#embed(text);
  }
  #embed(text: string): number[] {
    const v = new Array<number>(DIMS).fill(0.01);
    for (const ch of text.toLowerCase()) {
      const code = ch.charCodeAt(0);
      if (code >= 97 && code <= 122) v[code % DIMS]! += 1;
    }
    return v;
  }
}

beforeAll(async () => {
  db = await createTestDatabase({ embeddingDimensions: DIMS });
  const embeddings = instrumentEmbeddings(new LetterEmbeddings(), {
    provider: LOCAL_PROVIDER_NAME,
    model: 'letters',
    dimensions: DIMS,
    local: true,
  });
  store = new MemoryStore({
    pool: db.pool,
    embeddings,
    dimensions: DIMS,
    telemetry: createMemoryTelemetry(),
  });
});
afterAll(async () => db?.close());
beforeEach(() => {
  otel.reset();
  setContentCapture(false);
});

describe(`memory spans (${testKind})`, () => {
  it('store, search, update and delete each yield a GenAI memory span', async () => {
    const stored = await store.store([
      { content: 'The user prefers dark mode', memoryType: 'semantic' },
      { content: 'The user lives in Lisbon', memoryType: 'semantic' },
      { content: 'Deploys happen on Tuesdays', memoryType: 'episodic' },
    ]);
    expect(stored).toHaveLength(3);
    const [create] = otel.spansNamed('create_memory');
    expect(create?.kind).toBe(SpanKind.INTERNAL);
    expect(create?.attributes).toMatchObject({
      'gen_ai.operation.name': 'create_memory',
      'gen_ai.memory.store.id': 'memories',
      'gen_ai.memory.record.count': 3,
    });
    const [embedForStore] = otel.spansNamed('embeddings letters');
    expect(embedForStore?.parentSpanContext?.spanId).toBe(create?.spanContext().spanId);

    otel.reset();
    const hits = await store.search('what mode does the user prefer', { limit: 2 });
    expect(hits).toHaveLength(2);
    const [search, ...more] = otel.spansNamed('search_memory');
    expect(more).toHaveLength(0);
    expect(search?.kind).toBe(SpanKind.INTERNAL);
    expect(search?.status.code).toBe(SpanStatusCode.UNSET);
    expect(search?.attributes).toMatchObject({
      'gen_ai.operation.name': 'search_memory',
      'gen_ai.memory.store.id': 'memories',
      'gen_ai.memory.record.count': 2,
    });
    expect(search?.attributes['gen_ai.memory.query.text']).toBeUndefined();
    expect(JSON.stringify(search?.attributes)).not.toContain('mode');
    const [embedForSearch] = otel.spansNamed('embeddings letters');
    expect(embedForSearch?.parentSpanContext?.spanId).toBe(search?.spanContext().spanId);
    expect(embedForSearch?.spanContext().traceId).toBe(search?.spanContext().traceId);

    otel.reset();
    await store.update(stored[0]!.id, { metadata: { checked: true } });
    expect(otel.spansNamed('update_memory')[0]?.attributes['gen_ai.operation.name']).toBe('update_memory');
    expect(await store.delete([stored[1]!.id, stored[2]!.id])).toBe(2);
    expect(otel.spansNamed('delete_memory')[0]?.attributes).toMatchObject({
      'gen_ai.operation.name': 'delete_memory',
      'gen_ai.memory.record.count': 2,
    });
  });

  it('records the query text only when content capture is on', async () => {
    await store.store([{ content: 'Private note about holidays', memoryType: 'semantic' }]);
    otel.reset();
    await store.search('private question one', { limit: 1 });
    setContentCapture(true);
    await store.textSearch('private question two', { limit: 1 });
    await withMemorySpan('search_memory', { queryText: 'direct' }, async () => [] as unknown[]);
    const [off, on, direct] = otel.spansNamed('search_memory');
    expect(off?.attributes['gen_ai.memory.query.text']).toBeUndefined();
    expect(JSON.stringify(off?.attributes)).not.toContain('private question');
    expect(on?.attributes['gen_ai.memory.query.text']).toBe('private question two');
    expect(on?.attributes['animus.memory.query']).toBeUndefined();
    expect(direct?.attributes['gen_ai.memory.query.text']).toBe('direct');
    expect(direct?.attributes['gen_ai.memory.record.count']).toBe(0);
  });

  it('marks a failed operation with error.type and status ERROR and rethrows the error', async () => {
    await expect(
      withMemorySpan('delete_memory', { recordId: 'm-1' }, async () => {
        throw new ValidationError('ids', 'must not be empty');
      }),
    ).rejects.toThrow(ValidationError);
    const [span] = otel.spansNamed('delete_memory');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes).toMatchObject({
      'gen_ai.memory.record.id': 'm-1',
      'error.type': 'VALIDATION_FAILED',
    });
  });
});
