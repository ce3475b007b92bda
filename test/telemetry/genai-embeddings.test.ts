// Embeddings wrapped by instrumentEmbeddings: the `embeddings {model}` span for an
// OpenAI-compatible endpoint (dimension count, usage and response model read from the raw
// response), metrics, a failing call, and a local in-process model (kind INTERNAL).
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Embeddings } from '@langchain/core/embeddings';
import { OpenAIEmbeddings } from '@langchain/openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { instrumentEmbeddings, LOCAL_PROVIDER_NAME, serverOf } from '../../src/telemetry/index.js';
import { installTestOtel, pointWith } from './support/otel.js';
import type { Histogram } from './support/otel.js';
import { startOpenAiStub, STUB_EMBED_TOKENS } from './support/openai-stub.js';
import type { OpenAiStub } from './support/openai-stub.js';

const otel = installTestOtel();

/** An in-process model whose embedQuery goes through embedDocuments. */
class LocalEmbeddings extends Embeddings {
  constructor() {
    super({});
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => [t.length, 1, 0]);
  }
  async embedQuery(text: string): Promise<number[]> {
    const [vector] = await this.embedDocuments([text]);
    return vector!;
  }
}
let stub: OpenAiStub;

function openAiEmbeddings(): OpenAIEmbeddings {
  return new OpenAIEmbeddings({
    model: 'text-embedding-3-small',
    dimensions: 8,
    apiKey: 'sk-test-not-a-real-key',
    configuration: { baseURL: stub.baseUrl },
    maxRetries: 0,
  });
}

beforeAll(async () => {
  stub = await startOpenAiStub({ dimensions: 8 });
});
afterAll(async () => {
  await stub.close();
});
beforeEach(() => {
  otel.reset();
  stub.failWith = undefined;
});

describe('embeddings spans', () => {
  it('traces embedDocuments as a CLIENT span with dimensions, usage and response model', async () => {
    const embeddings = instrumentEmbeddings(openAiEmbeddings(), {
      provider: 'openai',
      model: 'text-embedding-3-small',
      dimensions: 8,
      ...serverOf(stub.baseUrl),
    });
    const vectors = await embeddings.embedDocuments(['alpha', 'beta']);
    expect(vectors).toHaveLength(2);
    expect(vectors[1]).toHaveLength(8);

    const [span, ...more] = otel.spansNamed('embeddings text-embedding-3-small');
    expect(more).toHaveLength(0);
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.attributes).toEqual({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'text-embedding-3-small',
      'gen_ai.embeddings.dimension.count': 8,
      'server.address': '127.0.0.1',
      'server.port': stub.port,
      'gen_ai.response.model': 'text-embedding-3-small-v1',
      'gen_ai.usage.input_tokens': STUB_EMBED_TOKENS,
    });

    const usage = await otel.collectMetric('gen_ai.client.token.usage');
    const input = pointWith<Histogram>(usage, {
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.token.type': 'input',
    });
    expect(input?.value).toMatchObject({ count: 1, sum: STUB_EMBED_TOKENS });
    expect(pointWith(usage, { 'gen_ai.operation.name': 'embeddings', 'gen_ai.token.type': 'output' })).toBe(
      undefined,
    );
    const duration = await otel.collectMetric('gen_ai.client.operation.duration');
    expect(
      pointWith<Histogram>(duration, {
        'gen_ai.operation.name': 'embeddings',
        'gen_ai.response.model': 'text-embedding-3-small-v1',
      })?.value.count,
    ).toBe(1);
  });

  it('traces embedQuery too, and a failure gets error.type and status ERROR', async () => {
    const embeddings = instrumentEmbeddings(openAiEmbeddings(), {
      provider: 'openai',
      model: 'text-embedding-3-small',
      dimensions: 8,
      ...serverOf(stub.baseUrl),
    });
    expect(await embeddings.embedQuery('gamma')).toHaveLength(8);
    stub.failWith = 429;
    await expect(embeddings.embedQuery('delta')).rejects.toThrow();
    const spans = otel.spansNamed('embeddings text-embedding-3-small');
    expect(spans).toHaveLength(2);
    expect(spans[0]?.status.code).toBe(SpanStatusCode.UNSET);
    expect(spans[1]?.status.code).toBe(SpanStatusCode.ERROR);
    expect(spans[1]?.attributes['error.type']).toBe('429');
    expect(spans[1]?.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });

  it('marks a local in-process model: provider animus.local, kind INTERNAL, no server', async () => {
    const embeddings = instrumentEmbeddings(new LocalEmbeddings(), {
      provider: LOCAL_PROVIDER_NAME,
      model: 'universal-sentence-encoder-lite',
      dimensions: 3,
      local: true,
    });
    expect(await embeddings.embedQuery('four')).toEqual([4, 1, 0]);
    const [span] = otel.spansNamed('embeddings universal-sentence-encoder-lite');
    expect(span?.kind).toBe(SpanKind.INTERNAL);
    expect(span?.attributes).toEqual({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.provider.name': 'animus.local',
      'gen_ai.request.model': 'universal-sentence-encoder-lite',
      'gen_ai.embeddings.dimension.count': 3,
    });
  });

  it('instruments in place: same instance and class, once only, no nested span for inner calls', async () => {
    const model = new LocalEmbeddings();
    const options = { provider: LOCAL_PROVIDER_NAME, model: 'nested', local: true };
    const instrumented = instrumentEmbeddings(model, options);
    expect(instrumented).toBe(model);
    expect(instrumented).toBeInstanceOf(LocalEmbeddings);
    expect(instrumentEmbeddings(model, options)).toBe(model);
    await model.embedQuery('once');
    expect(otel.spansNamed('embeddings nested')).toHaveLength(1);
  });
});
