// The public GenAI helpers on their own: error.type classification, server address parsing,
// recordTokenUsage / recordOperationDuration points, and startChatSpan used by hand.
import { SpanKind } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/errors/index.js';
import {
  errorTypeOf,
  recordOperationDuration,
  recordTokenUsage,
  serverOf,
  startChatSpan,
} from '../../src/telemetry/index.js';
import { installTestOtel, pointWith } from './support/otel.js';
import type { Histogram } from './support/otel.js';

const otel = installTestOtel();

describe('GenAI helpers', () => {
  it('classifies errors by status, then code, then class name, then _OTHER', () => {
    expect(errorTypeOf(new ProviderError('openai', 'm', 'down', { retryable: true, status: 503 }))).toBe(
      '503',
    );
    expect(errorTypeOf(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(errorTypeOf(new TypeError('bad'))).toBe('TypeError');
    expect(errorTypeOf(new Error('wrapped', { cause: Object.assign(new Error('x'), { status: 429 }) }))).toBe(
      '429',
    );
    expect(errorTypeOf(new Error('plain'))).toBe('_OTHER');
    expect(errorTypeOf('a string')).toBe('_OTHER');
    expect(errorTypeOf(Object.assign(new Error('odd'), { code: 'has spaces in it' }))).toBe('_OTHER');
  });

  it('reads server.address and server.port from an endpoint URL', () => {
    expect(serverOf('https://api.openai.com/v1')).toEqual({
      serverAddress: 'api.openai.com',
      serverPort: 443,
    });
    expect(serverOf('http://example.test/v1')).toEqual({ serverAddress: 'example.test', serverPort: 80 });
    expect(serverOf('http://[::1]:8080/v1')).toEqual({ serverAddress: '::1', serverPort: 8080 });
    expect(serverOf('not a url')).toEqual({});
    expect(serverOf(undefined)).toEqual({});
  });

  it('records token usage and duration points with the given attributes', async () => {
    const attrs = {
      operation: 'chat',
      provider: 'anthropic',
      requestModel: 'claude-x',
      responseModel: 'claude-x-1',
    };
    recordTokenUsage(attrs, { inputTokens: 100, outputTokens: 20 });
    recordTokenUsage(attrs, { inputTokens: -1 });
    recordOperationDuration(attrs, 1.5);
    recordOperationDuration(attrs, 0.2, 'timeout');
    const usage = await otel.collectMetric('gen_ai.client.token.usage');
    const input = pointWith<Histogram>(usage, {
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.token.type': 'input',
    });
    expect(input?.value).toMatchObject({ count: 1, sum: 100 });
    expect(input?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-x',
      'gen_ai.response.model': 'claude-x-1',
      'gen_ai.token.type': 'input',
    });
    const duration = await otel.collectMetric('gen_ai.client.operation.duration');
    expect(
      pointWith<Histogram>(duration, { 'gen_ai.provider.name': 'anthropic', 'error.type': 'timeout' })?.value
        .sum,
    ).toBeCloseTo(0.2);
    const ok = (duration?.dataPoints ?? []).find(
      (p) => p.attributes['gen_ai.provider.name'] === 'anthropic' && p.attributes['error.type'] === undefined,
    ) as { value: Histogram } | undefined;
    expect(ok?.value.sum).toBeCloseTo(1.5);
  });

  it('startChatSpan by hand: local model is INTERNAL, end is idempotent, usage summed', () => {
    const span = startChatSpan({
      provider: 'animus.local',
      model: 'tiny',
      local: true,
      params: { temperature: 0, choiceCount: 1 },
    });
    span.addResult({ usage: { inputTokens: 3, outputTokens: 1 } });
    span.end({ usage: { inputTokens: 2, outputTokens: 4 }, finishReasons: ['stop'] });
    span.end();
    span.fail(new Error('late'));
    const [finished, ...more] = otel.spansNamed('chat tiny');
    expect(more).toHaveLength(0);
    expect(finished?.kind).toBe(SpanKind.INTERNAL);
    expect(finished?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'animus.local',
      'gen_ai.request.model': 'tiny',
      'gen_ai.request.temperature': 0,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 5,
      'gen_ai.usage.output_tokens': 5,
    });
  });
});
