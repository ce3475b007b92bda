// Direct work spans (direct-spans.ts) against the SDK's own spans: the same calls give the same
// exported span (attributes, limits, events, links, status, names, parents, sampling), the
// main-thread encoder writes the bytes the SDK's protobuf serializer writes for the same spans,
// the W3C header shortcuts agree with the propagators, the locally counted work duration is the
// histogram the SDK instrument reports, and initTelemetry uses all this only where the SDK's
// settings are the defaults.
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import type { Attributes, Context, Span, SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  isTracingSuppressed,
  millisToHrTime,
  suppressTracing,
  TraceState,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  RandomIdGenerator,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { blankFields, DirectSpanEncoder } from '../../src/telemetry/direct-span-encoder.js';
import {
  DirectSpan,
  directSpanSink,
  frozenAttributes,
  setDirectSpanSink,
  startDirectSpan,
} from '../../src/telemetry/direct-spans.js';
import type { DirectSpanSink } from '../../src/telemetry/direct-spans.js';
import { initTelemetry } from '../../src/telemetry/index.js';
import {
  extractTraceContext,
  injectTraceHeaders,
  readTraceParent,
  w3cTraceHeaders,
} from '../../src/telemetry/propagation.js';
import { samplerFromEnv } from '../../src/telemetry/setup.js';
import { recordWorkDuration } from '../../src/telemetry/work-duration.js';
import { startWorkConsumerSpan, startWorkSpan } from '../../src/telemetry/work-spans.js';
import { resetOtelApi, useOtlpReceiver } from '../support/otlp-receiver.js';

const otlp = useOtlpReceiver();

/** Runs `fn` with `env` added to process.env (where the SDK reads its variables), then restores it. */
async function withProcessEnv(env: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    await fn();
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

const resource = resourceFromAttributes({ 'service.name': 'direct-test', 'host.cores': 2 });
const scope = { name: 'animus', version: '9.9.9' };

/** An SDK provider with an in-memory exporter, and a direct sink feeding the same processor. */
function pipeline(sampler?: AlwaysOnSampler): {
  memory: InMemorySpanExporter;
  provider: BasicTracerProvider;
  sink: DirectSpanSink;
  sdkSpan(name: string, kind: SpanKind, parent: Context, attributes: Attributes): Span;
} {
  const memory = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(memory);
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  const tracer = provider.getTracer(scope.name, scope.version);
  const probe = tracer.startSpan('probe') as unknown as ReadableSpan;
  const ids = new RandomIdGenerator();
  const sink: DirectSpanSink = {
    provider,
    resource: probe.resource,
    scope: probe.instrumentationScope,
    ...(sampler === undefined ? {} : { sampler }),
    w3cPropagation: true,
    processors: [processor],
    newTraceId: () => ids.generateTraceId(),
    newSpanId: () => ids.generateSpanId(),
    suppressed: isTracingSuppressed,
  };
  return {
    memory,
    provider,
    sink,
    sdkSpan: (name, kind, parent, attributes) => tracer.startSpan(name, { kind, attributes }, parent),
  };
}

const remoteParent: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('vendor=abc,other=1'),
};

const BASE = frozenAttributes({
  'messaging.system': 'pgmq',
  'messaging.destination.name': 'q',
  'animus.work.type': 'mail',
});

/** Everything the API lets code do to a span, the same way on both. */
function exercise(span: Span): void {
  span.setAttribute('animus.work.id', 'w-1');
  span.setAttribute('messaging.destination.name', 'q-renamed'); // overrides a constant one
  span.setAttributes({ list: ['a', 'b'], nums: [1, 2.5], ok: true, big: 2 ** 60, neg: -7, pi: 3.14 });
  span.setAttribute('', 'empty key is refused');
  span.setAttribute('bad', { nested: 1 } as never);
  span.setAttribute('mixed', [1, 'x'] as never);
  span.setAttribute('skip', undefined as never);
  for (let i = 0; i < 130; i++) span.setAttribute(`many.${i}`, i); // past the 128 limit
  span.addEvent('plain');
  span.addEvent('with attrs', { 'a.b': 'c', n: 1, bad: { x: 1 } as never });
  span.addEvent('timed', [1_700_000_000, 123_456_789]);
  span.addEvent('timed by date', new Date(1_700_000_001_000));
  span.addEvent('attrs and time', { k: 'v' }, [1_700_000_002, 5]);
  span.recordException(new Error('boom'));
  span.recordException('just a message');
  span.addLink({ context: remoteParent, attributes: { why: 'batch' } });
  span.addLinks([{ context: { ...remoteParent, spanId: 'aaaaaaaaaaaaaaaa', isRemote: false } }]);
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  span.updateName('renamed');
  span.end([1_800_000_000, 1]);
  span.end(); // ignored
  span.setAttribute('after.end', 1); // ignored
}

/** The exported fields of a span, without its own ids and timing. */
function shape(span: ReadableSpan): unknown {
  return {
    name: span.name,
    kind: span.kind,
    parent: span.parentSpanContext && {
      traceId: span.parentSpanContext.traceId,
      spanId: span.parentSpanContext.spanId,
      isRemote: span.parentSpanContext.isRemote,
    },
    traceId: span.spanContext().traceId,
    traceFlags: span.spanContext().traceFlags,
    traceState: span.spanContext().traceState?.serialize(),
    attributes: span.attributes,
    droppedAttributesCount: span.droppedAttributesCount,
    events: span.events.map((e) => ({
      name: e.name,
      attributes: Object.fromEntries(
        Object.entries(e.attributes ?? {}).filter(([k]) => k !== 'exception.stacktrace'),
      ),
      stack: typeof e.attributes?.['exception.stacktrace'],
      dropped: e.droppedAttributesCount,
      time: e.name.startsWith('timed') || e.name === 'attrs and time' ? e.time : 'now',
    })),
    droppedEventsCount: span.droppedEventsCount,
    links: span.links,
    droppedLinksCount: span.droppedLinksCount,
    status: span.status,
    endTime: span.endTime,
    ended: span.ended,
    resource: span.resource,
    scope: span.instrumentationScope,
  };
}

function directOf(p: { sink: DirectSpanSink }, parent: SpanContext | undefined, own: Attributes = {}): Span {
  const { attributes, count } = BASE;
  return startDirectSpan(p.sink, 'process q', SpanKind.CONSUMER, ROOT_CONTEXT, parent, attributes, count, {
    ...own,
  });
}

/** The request for spans of one resource and scope, encoded one at a time as the queue does. */
function encodeRequest(encoder: DirectSpanEncoder, spans: DirectSpan[]): Uint8Array {
  const entries = Buffer.concat(spans.map((s) => Buffer.from(encoder.encodeSpan(s))));
  return encoder.wrap(spans[0]!.resource, spans[0]!.instrumentationScope, entries);
}

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterEach(() => setDirectSpanSink(undefined));

describe('direct spans against SDK spans', () => {
  it('export the same fields for the same calls (limits, invalid values, events, links, status, name)', () => {
    const p = pipeline();
    const parentCtx = trace.setSpanContext(ROOT_CONTEXT, remoteParent);
    exercise(p.sdkSpan('process q', SpanKind.CONSUMER, parentCtx, { ...BASE.attributes }));
    exercise(directOf(p, remoteParent));
    const [sdk, direct] = p.memory.getFinishedSpans();
    expect(direct).toBeInstanceOf(DirectSpan);
    expect(sdk).not.toBeInstanceOf(DirectSpan);
    expect(shape(direct!)).toEqual(shape(sdk!));
    // The limits really applied: 128 attributes kept, the rest counted as dropped.
    expect(Object.keys(direct!.attributes)).toHaveLength(128);
    expect(direct!.droppedAttributesCount).toBeGreaterThan(0);
  });

  it('drop the oldest events past 128 and count them, as SDK spans do', () => {
    const p = pipeline();
    const sdk = p.sdkSpan('e', SpanKind.INTERNAL, ROOT_CONTEXT, {});
    const direct = directOf(p, undefined);
    for (const span of [sdk, direct]) {
      for (let i = 0; i < 131; i++) span.addEvent(`e${i}`, { i });
      span.end();
    }
    const [a, b] = p.memory.getFinishedSpans();
    expect(b!.droppedEventsCount).toBe(3);
    expect(b!.events.map((e) => e.name)).toEqual(a!.events.map((e) => e.name));
    expect(b!.events[0]!.name).toBe('e3');
  });

  it('follow the sampler: children of unsampled parents do not record, roots and sampled children do', () => {
    const p = pipeline();
    const unsampled = directOf(p, { ...remoteParent, traceFlags: TraceFlags.NONE });
    expect(unsampled).not.toBeInstanceOf(DirectSpan);
    expect(unsampled.isRecording()).toBe(false);
    expect(unsampled.spanContext().traceId).toBe(remoteParent.traceId);
    expect(unsampled.spanContext().traceFlags).toBe(TraceFlags.NONE);
    unsampled.end();
    const root = directOf(p, undefined);
    expect(root.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.spanContext().traceId).not.toBe(remoteParent.traceId);
    expect(root.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
    root.end();
    // always_on records whatever the parent says.
    const always = pipeline(new AlwaysOnSampler());
    const child = directOf(always, { ...remoteParent, traceFlags: TraceFlags.NONE });
    expect(child).toBeInstanceOf(DirectSpan);
    child.end();
    expect(p.memory.getFinishedSpans()).toHaveLength(1);
    expect(always.memory.getFinishedSpans()).toHaveLength(1);
    // Suppressed tracing gives the invalid span.
    const suppressed = startDirectSpan(
      p.sink,
      'x',
      SpanKind.INTERNAL,
      suppressTracing(ROOT_CONTEXT),
      undefined,
      BASE.attributes,
      BASE.count,
      {},
    );
    expect(trace.isSpanContextValid(suppressed.spanContext())).toBe(false);
  });

  it('take the active span as parent when none is given, and become the parent of SDK spans', () => {
    const p = pipeline();
    const outer = p.sdkSpan('outer', SpanKind.SERVER, ROOT_CONTEXT, {});
    const direct = startDirectSpan(
      p.sink,
      'process q',
      SpanKind.CONSUMER,
      trace.setSpan(ROOT_CONTEXT, outer),
      undefined,
      BASE.attributes,
      BASE.count,
      {},
    );
    const inner = p.sdkSpan('inner', SpanKind.CLIENT, trace.setSpan(ROOT_CONTEXT, direct), {});
    inner.end();
    direct.end();
    outer.end();
    const [i, d, o] = p.memory.getFinishedSpans();
    expect(d!.parentSpanContext?.spanId).toBe(o!.spanContext().spanId);
    expect(d!.parentSpanContext?.isRemote).toBeFalsy();
    expect(i!.parentSpanContext?.spanId).toBe(d!.spanContext().spanId);
    expect(i!.spanContext().traceId).toBe(o!.spanContext().traceId);
  });
});

describe('direct spans and the SDK samplers', () => {
  /** Ids from a fixed sequence, the same for the SDK provider and the direct sink. */
  function sequenceIds(): RandomIdGenerator {
    let n = 0;
    const hex = (k: number, len: number) =>
      (k * 2654435761 + 12345).toString(16).padStart(len, '7').slice(-len);
    return {
      generateTraceId: () => `${hex(++n, 16)}${hex(n * 7, 16)}`,
      generateSpanId: () => hex(++n, 16),
    } as RandomIdGenerator;
  }

  it('decide like the SDK tracer under ratio and parent-based samplers', () => {
    for (const sampler of [
      new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.5) }),
      new TraceIdRatioBasedSampler(0.3),
      new ParentBasedSampler({ root: new AlwaysOffSampler() }),
      new AlwaysOnSampler(),
    ]) {
      const memory = new InMemorySpanExporter();
      const processor = new SimpleSpanProcessor(memory);
      const provider = new BasicTracerProvider({
        resource,
        sampler,
        idGenerator: sequenceIds(),
        spanProcessors: [processor],
      });
      const tracer = provider.getTracer(scope.name, scope.version);
      const ids = sequenceIds();
      const sink: DirectSpanSink = {
        provider,
        resource,
        scope,
        sampler,
        w3cPropagation: true,
        processors: [processor],
        newTraceId: () => ids.generateTraceId(),
        newSpanId: () => ids.generateSpanId(),
        suppressed: isTracingSuppressed,
      };
      const decisions = (start: (parent: SpanContext | undefined) => Span) => {
        const out: string[] = [];
        for (let i = 0; i < 100; i++) {
          // Roots, sampled remote parents and unsampled remote parents in turn.
          const parent =
            i % 3 === 0 ? undefined : { ...remoteParent, traceFlags: i % 3 === 1 ? 1 : 0, isRemote: true };
          const span = start(parent);
          out.push(`${span.isRecording()}:${span.spanContext().traceFlags}:${span.spanContext().traceId}`);
          span.end();
        }
        return out;
      };
      const sdk = decisions((parent) =>
        tracer.startSpan(
          'process q',
          { kind: SpanKind.CONSUMER, attributes: { ...BASE.attributes } },
          parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent),
        ),
      );
      const direct = decisions((parent) => directOf({ sink }, parent));
      expect(direct).toEqual(sdk);
      // The samplers really split: some recorded, and (but for always-on) some not.
      expect(direct.some((d) => d.startsWith('true:1'))).toBe(true);
      if (!(sampler instanceof AlwaysOnSampler)) expect(direct.some((d) => d.startsWith('false'))).toBe(true);
    }
  });

  it('samplerFromEnv builds what the Node SDK builds from OTEL_TRACES_SAMPLER and _ARG', () => {
    const samplers = { AlwaysOnSampler, AlwaysOffSampler, ParentBasedSampler, TraceIdRatioBasedSampler };
    const built = (env: Record<string, string>) => samplerFromEnv(env, samplers)?.toString();
    expect(built({})).toBeUndefined();
    expect(built({ OTEL_TRACES_SAMPLER: 'nonsense' })).toBeUndefined();
    expect(built({ OTEL_TRACES_SAMPLER: 'always_on' })).toBe('AlwaysOnSampler');
    expect(built({ OTEL_TRACES_SAMPLER: 'always_off' })).toBe('AlwaysOffSampler');
    expect(built({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' })).toBe(
      'TraceIdRatioBased{0.25}',
    );
    expect(built({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' })).toBe(
      'TraceIdRatioBased{1}',
    );
    expect(built({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 'x' })).toBe(
      'TraceIdRatioBased{1}',
    );
    expect(
      built({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }),
    ).toContain('TraceIdRatioBased{0.1}');
    expect(built({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' })).toContain('root=AlwaysOffSampler');
  });
});

describe('the direct span encoder', () => {
  it('writes the bytes the SDK protobuf serializer writes for the same spans', () => {
    const p = pipeline();
    const a = directOf(p, remoteParent, { 'animus.work.id': 'w-ünï', 'animus.work.attempt': 2 });
    exercise(a);
    const b = directOf(p, undefined, { 'messaging.message.id': '42' });
    b.setAttribute('bytes', new Uint8Array([1, 2, 3]) as never);
    b.setAttribute('float', -0.5);
    b.setAttribute('huge', 2 ** 63); // beyond int64: a double
    b.setAttribute('min', -(2 ** 63)); // int64's least: ten-byte varint
    b.setAttribute('long text', 'x'.repeat(300)); // a length that takes two bytes
    b.end();
    const c = directOf(p, { ...remoteParent, traceState: undefined });
    // Many spans, so the request's lengths take several bytes.
    for (let i = 0; i < 300; i++) c.addEvent('tick', { i });
    c.setAttribute('longer text', 'y'.repeat(20_000)); // a span whose length takes three bytes
    c.end();
    const spans = p.memory.getFinishedSpans() as unknown as DirectSpan[];
    expect(spans).toHaveLength(3);
    const encoder = new DirectSpanEncoder();
    const ours = encodeRequest(encoder, spans);
    const theirs = ProtobufTraceSerializer.serializeRequest(spans as unknown as ReadableSpan[])!;
    expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
    // Again: the cached constant parts give the same bytes.
    expect(Buffer.from(encodeRequest(encoder, spans)).equals(Buffer.from(theirs))).toBe(true);
  });
});

describe('direct span encoder: times', () => {
  /** A span of nothing but ids and the two times, as `fillFields` hands them over. */
  const timed = (start: number, end: number) => ({
    resource: {},
    instrumentationScope: { name: 's' },
    fillFields(f: Parameters<DirectSpan['fillFields']>[0]) {
      Object.assign(f, blankFields(), {
        context: { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceFlags: 1 },
        startTime: start,
        endTime: end,
      });
    },
  });
  /** Unix nanoseconds as the SDK serializer computes them (BigInt of millisToHrTime's pair). */
  const nanos = (ms: number) => {
    const [s, n] = millisToHrTime(ms);
    return BigInt(s) * 1_000_000_000n + BigInt(n);
  };
  /**
   * The fixed64 of field 7 (start, tag 0x39) or 8 (end, 0x41): after the entry's tag and length,
   * the trace id (18 bytes), span id (10), empty name (2) and kind (2).
   */
  const fixed64After = (bytes: Uint8Array, tag: number) => {
    const at = tag === 0x39 ? 34 : 43;
    expect(bytes[at]).toBe(tag);
    return Buffer.from(bytes).readBigUInt64LE(at + 1);
  };

  it('writes epoch milliseconds as the SDK writes their HrTime, exactly', () => {
    const encoder = new DirectSpanEncoder();
    const edges = [
      0,
      0.0000004,
      0.0000006,
      999.9999996,
      1000,
      65_535_999.9999,
      65_536_000,
      2 ** 32,
      2 ** 32 - 0.5,
      1_764_400_000_000.0005,
      1_764_400_000_999.9998,
      4_102_444_800_000.123,
      Date.now(),
      performance.timeOrigin,
    ];
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 ** 42;
    const values = [...edges, ...Array.from({ length: 2000 }, random)];
    for (const ms of values) {
      const end = ms + 1.25;
      const bytes = encoder.encodeSpan(timed(ms, end));
      expect([ms, fixed64After(bytes, 0x39)]).toEqual([ms, nanos(ms)]);
      expect([end, fixed64After(bytes, 0x41)]).toEqual([end, nanos(end)]);
    }
  });
});

describe('W3C header shortcuts', () => {
  const w3c = new W3CTraceContextPropagator();
  const variants: Array<Record<string, unknown>> = [
    { traceparent: `00-${remoteParent.traceId}-${remoteParent.spanId}-01` },
    { traceparent: `00-${remoteParent.traceId}-${remoteParent.spanId}-00`, tracestate: 'a=1,b=2' },
    { TraceParent: `00-${remoteParent.traceId}-${remoteParent.spanId}-01` },
    { traceparent: `ff-${remoteParent.traceId}-${remoteParent.spanId}-01` },
    { traceparent: `00-${'0'.repeat(32)}-${remoteParent.spanId}-01` },
    { traceparent: `00-${remoteParent.traceId}-${'0'.repeat(16)}-01` },
    // Characters that are not lowercase hex, ASCII or not (İ is U+0130: its low byte is '0').
    { traceparent: `00-${remoteParent.traceId.slice(0, 31)}g-${remoteParent.spanId}-01` },
    { traceparent: `00-İ${remoteParent.traceId.slice(1)}-${remoteParent.spanId}-01` },
    { traceparent: `00-${remoteParent.traceId}-${remoteParent.spanId.slice(0, 15)}é-01` },
    { traceparent: `00-${remoteParent.traceId}-${remoteParent.spanId.slice(0, 15)}:-01` },
    { traceparent: `00-${remoteParent.traceId}-${remoteParent.spanId}-01-extra` },
    { traceparent: `01-${remoteParent.traceId}-${remoteParent.spanId}-01-future` },
    { traceparent: ` 00-${remoteParent.traceId}-${remoteParent.spanId}-01` },
    { traceparent: `00-${remoteParent.traceId.toUpperCase()}-${remoteParent.spanId}-01` },
    { traceparent: `00-${remoteParent.traceId}-${remoteParent.spanId}-ff` },
    { traceparent: `00-${remoteParent.traceId}-${remoteParent.spanId}-0g` },
    { traceparent: `00_${remoteParent.traceId}-${remoteParent.spanId}-01` },
    { traceparent: 'garbage' },
    { traceparent: 7 },
    {},
  ];

  it('readTraceParent reads what the W3C propagator reads', () => {
    for (const headers of variants) {
      const viaPropagator = trace.getSpanContext(
        w3c.extract(ROOT_CONTEXT, headers, {
          keys: (c) => Object.keys(c),
          get: (c, k) => {
            const v = (c as Record<string, unknown>)[k] ?? (c as Record<string, unknown>)[k.toLowerCase()];
            return typeof v === 'string' ? v : undefined;
          },
        }),
      );
      const ours = readTraceParent(headers);
      expect({ headers, ours: ours && { ...ours, traceState: ours.traceState?.serialize() } }).toEqual({
        headers,
        ours: viaPropagator && { ...viaPropagator, traceState: viaPropagator.traceState?.serialize() },
      });
      // And the module's general reader agrees.
      expect(trace.getSpanContext(extractTraceContext(headers))?.spanId).toBe(ours?.spanId);
    }
    expect(readTraceParent(null)).toBeUndefined();
    expect(readTraceParent([1])).toBeUndefined();
  });

  it('w3cTraceHeaders writes what the W3C propagator writes', () => {
    for (const ctx of [
      remoteParent,
      { ...remoteParent, traceFlags: TraceFlags.NONE, traceState: undefined },
      { ...remoteParent, traceId: '0'.repeat(32) },
    ]) {
      const carrier: Record<string, string> = {};
      w3c.inject(trace.setSpanContext(ROOT_CONTEXT, ctx), carrier, {
        set: (c, k, v) => {
          c[k] = v;
        },
      });
      expect(w3cTraceHeaders(ctx)).toEqual(carrier);
      expect(injectTraceHeaders(trace.setSpanContext(ROOT_CONTEXT, ctx))).toEqual(carrier);
    }
  });
});

describe('initTelemetry and direct recording', () => {
  const config = () => resolveConfig({ telemetry: { otlpEndpoint: otlp.endpoint, serviceName: 'animus' } });
  const quiet = { OTEL_LOGS_EXPORTER: 'none' };

  it('records work spans directly by default, and the trace arrives whole', async () => {
    resetOtelApi();
    const from = otlp.received.length;
    const handle = await initTelemetry(config(), { env: quiet });
    expect(handle.directSpans).toBe(true);
    expect(handle.localWorkDuration).toBe(true);
    expect(directSpanSink()).toBeDefined();
    const producer = startWorkSpan({ queue: 'dq', workType: 'direct' });
    expect(producer.span).toBeInstanceOf(DirectSpan);
    producer.end();
    const consumer = startWorkConsumerSpan({
      queue: 'dq',
      workType: 'direct',
      workId: 'id-1',
      attempt: 1,
      headers: producer.headers,
    });
    expect(consumer.span).toBeInstanceOf(DirectSpan);
    expect(consumer.span.spanContext().traceId).toBe(producer.span.spanContext().traceId);
    consumer.end('completed');
    await handle.shutdown();
    expect(directSpanSink()).toBeUndefined();
    const bodies = otlp.received.slice(from).filter((r) => r.path === '/v1/traces');
    const all = Buffer.concat(bodies.map((b) => b.raw));
    expect(all.includes(Buffer.from('send dq'))).toBe(true);
    expect(all.includes(Buffer.from('process dq'))).toBe(true);
    expect(all.includes(Buffer.from(producer.span.spanContext().spanId, 'hex'))).toBe(true);
  });

  it('keeps direct spans under a sampler from the environment, and follows it', async () => {
    for (const [arg, recording] of [
      ['0', false],
      ['1', true],
    ] as const) {
      resetOtelApi();
      await withProcessEnv(
        { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: arg },
        async () => {
          const handle = await initTelemetry(config(), { env: quiet });
          expect(handle.directSpans).toBe(true);
          const span = startWorkSpan({ queue: 'dq', workType: 'sampled' });
          expect(span.span.isRecording()).toBe(recording);
          expect(span.span instanceof DirectSpan).toBe(recording);
          // The header still carries the decision to the consumer.
          expect(span.headers.traceparent?.endsWith(recording ? '-01' : '-00')).toBe(true);
          span.end();
          await handle.shutdown();
        },
      );
    }
  });

  it('exports direct spans over OTLP/HTTP JSON too (encoded by the SDK on the export thread)', async () => {
    resetOtelApi();
    const from = otlp.received.length;
    const handle = await initTelemetry(config(), {
      env: { ...quiet, OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
    });
    expect(handle.directSpans).toBe(true);
    const producer = startWorkSpan({ queue: 'json_q', workType: 'json.type' });
    producer.end();
    const consumer = startWorkConsumerSpan({
      queue: 'json_q',
      workType: 'json.type',
      workId: 'id-json',
      attempt: 2,
      headers: producer.headers,
    });
    consumer.addEvent('queued', 'running');
    consumer.end('completed');
    await handle.shutdown();
    type JsonSpan = {
      name: string;
      spanId: string;
      parentSpanId?: string;
      attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
      events: Array<{ name: string }>;
    };
    const spans = otlp.received
      .slice(from)
      .filter((r) => r.path === '/v1/traces')
      .flatMap((r) => r.body.resourceSpans as Array<{ scopeSpans: Array<{ spans: JsonSpan[] }> }>)
      .flatMap((r) => r.scopeSpans.flatMap((ss) => ss.spans));
    const send = spans.find((x) => x.name === 'send json_q');
    const processed = spans.find((x) => x.name === 'process json_q');
    expect(send).toBeDefined();
    expect(processed?.parentSpanId).toBe(send?.spanId);
    const attrs = Object.fromEntries(
      processed!.attributes.map((a) => [a.key, a.value.stringValue ?? String(a.value.intValue)]),
    );
    expect(attrs).toMatchObject({
      'messaging.destination.name': 'json_q',
      'animus.work.type': 'json.type',
      'animus.work.id': 'id-json',
      'animus.work.attempt': '2',
      'animus.work.outcome': 'completed',
    });
    expect(processed!.events.map((e) => e.name)).toEqual(['animus.work.transition']);
  });

  it('leaves spans to the SDK tracer when span limits or the switch say so', async () => {
    const cases: Array<{ env?: Record<string, string>; option?: boolean }> = [
      { env: { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '10' } },
      { env: { OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '64' } },
      { option: false },
    ];
    for (const c of cases) {
      resetOtelApi();
      await withProcessEnv(c.env ?? {}, async () => {
        const handle = await initTelemetry(config(), {
          env: quiet,
          ...(c.option === undefined ? {} : { directRecording: c.option }),
        });
        expect(handle.directSpans).toBe(false);
        const span = startWorkSpan({ queue: 'dq', workType: 'sdk' });
        expect(span.span).not.toBeInstanceOf(DirectSpan);
        span.end();
        await handle.shutdown();
      });
    }
  });

  it('reports the locally counted work duration as the SDK histogram would', async () => {
    const values = [0, 0.004, 0.005, 0.0051, 0.3, 1, 2.5, 7, 1500, 0.02];
    const histogramLines = async (direct: boolean): Promise<string[]> => {
      resetOtelApi();
      const handle = await initTelemetry(resolveConfig({}), {
        env: {},
        prometheus: true,
        directRecording: direct,
      });
      expect(handle.localWorkDuration).toBe(direct);
      const queue = direct ? 'local_q' : 'sdk_q';
      for (const v of values) recordWorkDuration(v, { queue, workType: 'dur', outcome: 'completed' });
      recordWorkDuration(0.5, { queue, workType: 'dur', outcome: 'retry' });
      recordWorkDuration(-1, { queue, workType: 'dur', outcome: 'retry' }); // not a duration
      const text = (await handle.metricsText!()).replaceAll(queue, 'Q');
      await handle.shutdown();
      return text.split('\n').filter((l) => l.startsWith('animus_work_duration'));
    };
    const local = await histogramLines(true);
    const sdk = await histogramLines(false);
    expect(local.length).toBeGreaterThan(10);
    expect(local).toEqual(sdk);
    // Ten completed points and one retry: the -1 was refused.
    expect(local.filter((l) => /^animus_work_duration_count\{.*"completed".*\} 10$/.test(l))).toHaveLength(1);
    expect(local.filter((l) => /^animus_work_duration_count\{.*"retry".*\} 1$/.test(l))).toHaveLength(1);
  });
});
