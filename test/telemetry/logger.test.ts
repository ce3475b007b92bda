// The JSON-lines logger: one parseable object per line with level filtering, trace and span
// ids from the active span, child fields, secrets kept out (Secret values, secret-looking
// keys, URL passwords), awkward values (bigint, errors, cycles) and the OTLP bridge hook.
import { context, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/index.js';
import { createLogger, setLogBridge } from '../../src/telemetry/index.js';
import type { BridgedLogRecord } from '../../src/telemetry/index.js';
import { installTestOtel } from './support/otel.js';

installTestOtel();

function capture(): {
  lines: () => Array<Record<string, unknown>>;
  raw: () => string;
  stream: { write(s: string): boolean };
} {
  const chunks: string[] = [];
  return {
    stream: {
      write: (s: string) => {
        chunks.push(s);
        return true;
      },
    },
    raw: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

afterEach(() => setLogBridge(undefined));

describe('createLogger', () => {
  it('writes one JSON object per line with time, level, name and msg, filtered by level', () => {
    const out = capture();
    const log = createLogger({ level: 'info', name: 'animus.test', stream: out.stream });
    log.debug('hidden');
    log.info('started', { queue: 'work', count: 3 });
    log.error('broke');
    expect(out.raw().endsWith('\n')).toBe(true);
    const lines = out.lines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'info',
      name: 'animus.test',
      msg: 'started',
      queue: 'work',
      count: 3,
    });
    expect(Number.isNaN(Date.parse(String(lines[0]?.time)))).toBe(false);
    expect(lines[0]?.trace_id).toBeUndefined();
    expect(lines[1]).toMatchObject({ level: 'error', msg: 'broke' });
    createLogger({ level: 'silent', stream: out.stream }).error('nothing');
    expect(out.lines()).toHaveLength(2);
  });

  it('stamps trace_id and span_id of the active span', () => {
    const out = capture();
    const log = createLogger({ stream: out.stream });
    const span = trace.getTracer('test').startSpan('op');
    context.with(trace.setSpan(context.active(), span), () => log.info('inside'));
    span.end();
    expect(out.lines()[0]).toMatchObject({
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
      trace_flags: '01',
    });
  });

  it('never prints secrets: Secret values, secret-named fields, URL passwords', () => {
    const out = capture();
    const log = createLogger({ stream: out.stream }).child({ component: 'db' });
    log.warn('connecting to postgres://animus:hunter2@db.internal:5432/animus', {
      databaseUrl: new Secret('postgres://animus:hunter2@db.internal/animus'),
      apiToken: 'tok-abcdef0123456789',
      openai_api_key: 'sk-live-123',
      nested: { password: 'pw-1', input_tokens: 12, dedup_key: 'k1' },
      url: 'https://user:s3cr3t@example.com/path',
    });
    const raw = out.raw();
    for (const secret of ['hunter2', 'tok-abcdef', 'sk-live-123', 'pw-1', 's3cr3t']) {
      expect(raw).not.toContain(secret);
    }
    const [line] = out.lines();
    expect(line).toMatchObject({
      component: 'db',
      msg: 'connecting to postgres://animus:[redacted]@db.internal:5432/animus',
      databaseUrl: '[redacted]',
      apiToken: '[redacted]',
      nested: { password: '[redacted]', input_tokens: 12, dedup_key: 'k1' },
      url: 'https://user:[redacted]@example.com/path',
    });
  });

  it('serialises bigint, errors with code and cause, and cycles without throwing', () => {
    const out = capture();
    const log = createLogger({ stream: out.stream });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const err = Object.assign(new Error('outer', { cause: new Error('inner') }), { code: 'E_TEST' });
    log.error('failed', { id: 12345678901234567890n, err, cyclic, msg: 'shadowed' });
    const [line] = out.lines();
    expect(line?.id).toBe('12345678901234567890');
    expect(line?.err).toMatchObject({
      name: 'Error',
      message: 'outer',
      code: 'E_TEST',
      cause: { message: 'inner' },
    });
    expect(line?.cyclic).toEqual({ a: 1, self: '[circular]' });
    expect(line?.msg).toBe('failed');
    expect(line?.['field.msg']).toBe('shadowed');
  });

  it('hands each written record to the OTLP bridge with its context', () => {
    const out = capture();
    const records: BridgedLogRecord[] = [];
    setLogBridge((r) => records.push(r));
    const log = createLogger({ level: 'warn', name: 'animus.bridge', stream: out.stream });
    log.info('filtered');
    const span = trace.getTracer('test').startSpan('op');
    context.with(trace.setSpan(context.active(), span), () => log.warn('kept', { token: 'x-secret' }));
    span.end();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      level: 'warn',
      name: 'animus.bridge',
      msg: 'kept',
      fields: { token: '[redacted]' },
    });
    expect(trace.getSpanContext(records[0]!.context)?.spanId).toBe(span.spanContext().spanId);
  });

  it('does not throw when the stream or bridge throws', () => {
    setLogBridge(() => {
      throw new Error('bridge down');
    });
    const log = createLogger({
      stream: {
        write: () => {
          throw new Error('stream closed');
        },
      },
    });
    expect(() => log.error('still fine')).not.toThrow();
  });
});
