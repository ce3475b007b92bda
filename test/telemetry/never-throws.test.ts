// Telemetry never throws into callers: with a tracer provider and a meter provider whose every
// call throws, model calls, memory spans, submits and work attempts still return their
// results (and their own errors) unchanged.
import { metrics, trace } from '@opentelemetry/api';
import type { Meter, MeterProvider, Tracer, TracerProvider } from '@opentelemetry/api';
import { Embeddings } from '@langchain/core/embeddings';
import { ChatOpenAI } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createWorkTracing,
  GenAiCallbackHandler,
  instrumentEmbeddings,
  registerQueueGauges,
  startChatSpan,
  withMemorySpan,
} from '../../src/telemetry/index.js';
import { startOpenAiStub, STUB_CHAT_REPLY } from './support/openai-stub.js';
import { runAttempt } from './support/run-attempt.js';
import type { OpenAiStub } from './support/openai-stub.js';

const explode = (): never => {
  throw new Error('telemetry backend exploded');
};
const brokenTracer = new Proxy({}, { get: () => explode }) as Tracer;
const brokenMeter = new Proxy({}, { get: () => explode }) as Meter;
trace.setGlobalTracerProvider({ getTracer: () => brokenTracer } as TracerProvider);
metrics.setGlobalMeterProvider({ getMeter: () => brokenMeter } as MeterProvider);

let stub: OpenAiStub;
beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterAll(async () => stub.close());

describe('with a broken telemetry backend', () => {
  it('chat and embeddings calls still return their results', async () => {
    const model = new ChatOpenAI({
      model: 'stub-model',
      apiKey: 'sk-test-not-a-real-key',
      configuration: { baseURL: stub.baseUrl },
      maxRetries: 0,
      callbacks: [new GenAiCallbackHandler()],
    });
    expect((await model.invoke('hi')).content).toBe(STUB_CHAT_REPLY);
    class Tiny extends Embeddings {
      constructor() {
        super({});
      }
      async embedDocuments(texts: string[]): Promise<number[][]> {
        return texts.map(() => [1, 2]);
      }
      async embedQuery(_text: string): Promise<number[]> {
        return [3, 4];
      }
    }
    const embeddings = instrumentEmbeddings(new Tiny(), { provider: 'x', model: 'tiny' });
    expect(await embeddings.embedQuery('q')).toEqual([3, 4]);
    const span = startChatSpan({ provider: 'x', model: 'm' });
    expect(() => span.end({ usage: { inputTokens: 1 } })).not.toThrow();
  });

  it('memory spans, submits and attempts pass results and errors through', async () => {
    expect(await withMemorySpan('search_memory', {}, async () => ['a'])).toEqual(['a']);
    await expect(
      withMemorySpan('delete_memory', {}, async () => {
        throw new RangeError('own error');
      }),
    ).rejects.toThrow(RangeError);
    const tracing = createWorkTracing();
    const submit = tracing.submit({ queue: 'q', workType: 't' });
    expect(submit.headers).toEqual({});
    expect(() => submit.end({ status: 'queued', id: 'i', msgId: 1n })).not.toThrow();
    expect(() => tracing.transition('queued', 'running', 't')).not.toThrow();
    const item = { id: 'i', queue: 'q', workType: 't', attempts: 1, maxAttempts: 1, msgId: 1n, headers: {} };
    expect(await runAttempt(item, async () => 42)).toBe(42);
    await expect(
      runAttempt(item, async () => {
        throw new TypeError('handler error');
      }),
    ).rejects.toThrow(TypeError);
    expect(registerQueueGauges(async () => [])).toBeTypeOf('function');
  });
});
