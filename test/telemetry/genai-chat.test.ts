// Chat calls through LangChain with GenAiCallbackHandler attached: the `chat {model}` span's
// name, kind, parent and exact attributes, the two GenAI metrics with the spec's buckets, a
// failing call's error.type, and content capture off and on.
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import type { BaseMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import { ChatOpenAI } from '@langchain/openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  GenAiCallbackHandler,
  instrumentChatModel,
  OPERATION_DURATION_BUCKETS,
  serverOf,
  setContentCapture,
  TOKEN_USAGE_BUCKETS,
} from '../../src/telemetry/index.js';
import { installTestOtel, pointWith } from './support/otel.js';
import type { Histogram } from './support/otel.js';
import { startOpenAiStub, STUB_CHAT_REPLY, STUB_CHAT_USAGE } from './support/openai-stub.js';
import type { OpenAiStub } from './support/openai-stub.js';

const otel = installTestOtel();
let stub: OpenAiStub;

function chatModel(handler: GenAiCallbackHandler): ChatOpenAI {
  return new ChatOpenAI({
    model: 'stub-model',
    apiKey: 'sk-test-not-a-real-key',
    configuration: { baseURL: stub.baseUrl },
    maxRetries: 0,
    temperature: 0.2,
    maxTokens: 64,
    callbacks: [handler],
  });
}

beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterAll(async () => {
  await stub.close();
});
beforeEach(() => {
  otel.reset();
  stub.failWith = undefined;
  setContentCapture(false);
});

describe('chat spans', () => {
  it('records a CLIENT span with request, response and usage attributes, under the caller span', async () => {
    const model = chatModel(new GenAiCallbackHandler(serverOf(stub.baseUrl)));
    const parent = trace.getTracer('test').startSpan('caller');
    const reply = await context.with(trace.setSpan(context.active(), parent), () =>
      model.invoke('What is the capital of France?'),
    );
    parent.end();
    expect(reply.content).toBe(STUB_CHAT_REPLY);

    const [span, ...more] = otel.spansNamed('chat stub-model');
    expect(more).toHaveLength(0);
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(span?.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(span?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'stub-model',
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.stream': false,
      'server.address': '127.0.0.1',
      'server.port': stub.port,
      'gen_ai.response.model': 'stub-model-2026-01-01',
      'gen_ai.response.id': 'chatcmpl-stub-1',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': STUB_CHAT_USAGE.prompt_tokens,
      'gen_ai.usage.output_tokens': STUB_CHAT_USAGE.completion_tokens,
      'gen_ai.usage.cache_read.input_tokens': STUB_CHAT_USAGE.cached,
    });

    const common = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'stub-model',
      'gen_ai.response.model': 'stub-model-2026-01-01',
      'server.address': '127.0.0.1',
      'server.port': stub.port,
    };
    const usage = await otel.collectMetric('gen_ai.client.token.usage');
    expect(usage?.descriptor.unit).toBe('{token}');
    const input = pointWith<Histogram>(usage, { ...common, 'gen_ai.token.type': 'input' });
    const output = pointWith<Histogram>(usage, { ...common, 'gen_ai.token.type': 'output' });
    expect(input?.value.buckets.boundaries).toEqual(TOKEN_USAGE_BUCKETS);
    expect(input?.value).toMatchObject({ count: 1, sum: STUB_CHAT_USAGE.prompt_tokens });
    expect(output?.value).toMatchObject({ count: 1, sum: STUB_CHAT_USAGE.completion_tokens });
    expect(Object.keys(input?.attributes ?? {}).sort()).toEqual(
      [...Object.keys(common), 'gen_ai.token.type'].sort(),
    );

    const duration = await otel.collectMetric('gen_ai.client.operation.duration');
    expect(duration?.descriptor.unit).toBe('s');
    const point = pointWith<Histogram>(duration, common);
    expect(point?.value.buckets.boundaries).toEqual(OPERATION_DURATION_BUCKETS);
    expect(point?.value.count).toBe(1);
    expect(point?.value.sum).toBeGreaterThan(0);
    expect(point?.value.sum).toBeLessThan(30);
    expect(point?.attributes['error.type']).toBeUndefined();
  });

  it('marks a failing call with error.type and status ERROR, and records its duration', async () => {
    stub.failWith = 500;
    const model = chatModel(new GenAiCallbackHandler(serverOf(stub.baseUrl)));
    await expect(model.invoke('hello')).rejects.toThrow();
    const [span] = otel.spansNamed('chat stub-model');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['error.type']).toBe('500');
    expect(span?.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
    const duration = await otel.collectMetric('gen_ai.client.operation.duration');
    expect(pointWith<Histogram>(duration, { 'error.type': '500' })?.value.count).toBe(1);
  });

  it('records no prompt or completion text when content capture is off (the default)', async () => {
    const model = chatModel(new GenAiCallbackHandler(serverOf(stub.baseUrl)));
    await model.invoke([new SystemMessage('Be brief.'), new HumanMessage('Capital of France?')]);
    const [span] = otel.spansNamed('chat stub-model');
    expect(span).toBeDefined();
    expect(span?.attributes['gen_ai.input.messages']).toBeUndefined();
    expect(span?.attributes['gen_ai.output.messages']).toBeUndefined();
    expect(JSON.stringify(span?.attributes)).not.toContain('France');
  });

  it('records input and output messages when content capture is on', async () => {
    setContentCapture(true);
    const model = chatModel(new GenAiCallbackHandler(serverOf(stub.baseUrl)));
    await model.invoke([new SystemMessage('Be brief.'), new HumanMessage('Capital of France?')]);
    const [span] = otel.spansNamed('chat stub-model');
    expect(JSON.parse(String(span?.attributes['gen_ai.input.messages']))).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
      { role: 'user', parts: [{ type: 'text', content: 'Capital of France?' }] },
    ]);
    expect(JSON.parse(String(span?.attributes['gen_ai.output.messages']))).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: STUB_CHAT_REPLY }], finish_reason: 'stop' },
    ]);
  });

  it('records cache-creation tokens and honours provider/model options of the handler', async () => {
    // A provider that reports cache writes (as LangChain's Anthropic model does).
    class CachingChatModel extends BaseChatModel {
      _llmType(): string {
        return 'caching-test';
      }
      async _generate(_messages: BaseMessage[]): Promise<ChatResult> {
        const message = new AIMessage({
          content: 'cached answer',
          id: 'msg_cache_1',
          response_metadata: { model_name: 'claude-test-1', finish_reason: 'end_turn' },
          usage_metadata: {
            input_tokens: 120,
            output_tokens: 5,
            total_tokens: 125,
            input_token_details: { cache_read: 40, cache_creation: 60 },
          },
        });
        return { generations: [{ text: 'cached answer', message }] };
      }
    }
    const handler = new GenAiCallbackHandler({ provider: 'anthropic', model: 'claude-test' });
    await new CachingChatModel({ callbacks: [handler] }).invoke('hi');
    const [span] = otel.spansNamed('chat claude-test');
    expect(span?.attributes).toMatchObject({
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.response.model': 'claude-test-1',
      'gen_ai.response.id': 'msg_cache_1',
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 120,
      'gen_ai.usage.output_tokens': 5,
      'gen_ai.usage.cache_read.input_tokens': 40,
      'gen_ai.usage.cache_creation.input_tokens': 60,
    });
    expect(span?.attributes['server.address']).toBeUndefined();
  });

  it('instrumentChatModel attaches the handler in place, once', async () => {
    const model = new ChatOpenAI({
      model: 'stub-model',
      apiKey: 'sk-test-not-a-real-key',
      configuration: { baseURL: stub.baseUrl },
      maxRetries: 0,
    });
    expect(instrumentChatModel(model, serverOf(stub.baseUrl))).toBe(model);
    instrumentChatModel(model, serverOf(stub.baseUrl));
    await model.invoke('hi');
    const spans = otel.spansNamed('chat stub-model');
    expect(spans).toHaveLength(1);
    expect(spans[0]?.attributes['server.port']).toBe(stub.port);
  });

  it('traces a streamed call with the usage and finish reason of the final chunks', async () => {
    const model = chatModel(new GenAiCallbackHandler(serverOf(stub.baseUrl)));
    let text = '';
    for await (const chunk of await model.stream('Capital of France?')) text += String(chunk.content);
    expect(text).toBe(STUB_CHAT_REPLY);
    const [span, ...more] = otel.spansNamed('chat stub-model');
    expect(more).toHaveLength(0);
    expect(span?.attributes).toMatchObject({
      'gen_ai.request.stream': true,
      'gen_ai.response.model': 'stub-model-2026-01-01',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': STUB_CHAT_USAGE.prompt_tokens,
      'gen_ai.usage.output_tokens': STUB_CHAT_USAGE.completion_tokens,
      'gen_ai.usage.cache_read.input_tokens': STUB_CHAT_USAGE.cached,
    });
    expect(span?.attributes['gen_ai.response.time_to_first_chunk']).toBeGreaterThan(0);
  });
});
