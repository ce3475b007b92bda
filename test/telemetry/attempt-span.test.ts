// Lazily recorded processing attempts (attempt-span.ts): an attempt nobody asks about exports
// the bytes the SDK's serializer writes for a DirectSpan of the same attempt; one whose handler
// uses the span hands over to a DirectSpan with the same start, parent and events; failures,
// the context the handler runs in, span contexts read after the end, and every case that must
// not be lazy. Against a real OTLP receiver, the trace of a submit, a lazy attempt and a child
// span arrives whole.
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed, suppressTracing } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { RecordBuffer, RecordTable } from '../../src/telemetry/attempt-record.js';
import { LazyAttemptSpan } from '../../src/telemetry/attempt-span.js';
import { blankFields, DirectSpanEncoder } from '../../src/telemetry/direct-span-encoder.js';
import type { EncodableSpan } from '../../src/telemetry/direct-span-encoder.js';
import { DirectSpan, setDirectSpanSink, startDirectSpan } from '../../src/telemetry/direct-spans.js';
import type { DirectSpanSink } from '../../src/telemetry/direct-spans.js';
import { initTelemetry, traceWorkAttempts } from '../../src/telemetry/index.js';
import type { ClaimedItemLike } from '../../src/telemetry/index.js';
import { WORK_TRANSITION_EVENT } from '../../src/telemetry/names.js';
import { baseAttrs, eventAttrs, startWorkSpan } from '../../src/telemetry/work-spans.js';
import { protobufSpans, resetOtelApi, useOtlpReceiver } from '../support/otlp-receiver.js';

const otlp = useOtlpReceiver();

const PARENT = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
const traceparent = (flags = '01') => `00-${PARENT.traceId}-${PARENT.spanId}-${flags}`;

function item(headers: unknown, attempts = 1): ClaimedItemLike {
  return { id: 'w-1', queue: 'lq', workType: 'lazy.type', attempts, maxAttempts: 3, msgId: 42n, headers };
}

/**
 * A registered provider with a direct sink whose lazy attempts land in `queued` and whose
 * DirectSpans land in `ended` (the processors).
 */
function pipeline(options: { enqueue?: boolean; sampler?: AlwaysOnSampler } = {}) {
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'lazy' }) });
  trace.setGlobalTracerProvider(provider);
  const probe = provider.getTracer('animus', '1.0.0').startSpan('probe') as unknown as ReadableSpan;
  const ids = new RandomIdGenerator();
  const queued: EncodableSpan[] = [];
  const ended: DirectSpan[] = [];
  const sink: DirectSpanSink = {
    provider,
    resource: probe.resource,
    scope: probe.instrumentationScope,
    ...(options.sampler === undefined ? {} : { sampler: options.sampler }),
    w3cPropagation: true,
    processors: [{ onStart() {}, onEnd: (span: never) => ended.push(span as DirectSpan) }],
    ...(options.enqueue === false ? {} : { enqueue: (span: EncodableSpan) => queued.push(span) }),
    newTraceId: () => ids.generateTraceId(),
    newSpanId: () => ids.generateSpanId(),
    suppressed: isTracingSuppressed,
  };
  setDirectSpanSink(sink);
  return { sink, queued, ended };
}

/** Runs one attempt as the worker does: `run(handler)`, then `completed()` or `failed(error)`. */
async function attempt(claimed: ClaimedItemLike, handler: () => unknown = () => undefined) {
  const scope = traceWorkAttempts(claimed);
  try {
    await scope.run(handler);
  } catch (error) {
    scope.failed(error);
    return scope;
  }
  scope.completed();
  return scope;
}

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterEach(() => {
  setDirectSpanSink(undefined);
  trace.disable();
});

describe('lazy attempts', () => {
  it('an attempt nobody asks about is one object, and exports what a DirectSpan of it exports', async () => {
    const { sink, queued, ended } = pipeline();
    const scope = await attempt(item({ traceparent: traceparent() }, 2));
    expect(scope).toBeInstanceOf(LazyAttemptSpan);
    expect(ended).toHaveLength(0);
    expect(queued).toEqual([scope]);
    const lazy = scope as LazyAttemptSpan;
    // The span context read after the end is the one that is exported.
    const ctx = lazy.spanContext();
    expect(ctx.traceId).toBe(PARENT.traceId);
    expect(ctx.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ctx.traceFlags).toBe(TraceFlags.SAMPLED);
    expect(lazy.isRecording()).toBe(false);
    const fields = blankFields();
    lazy.fillFields(fields);
    expect(fields.context.spanId).toBe(ctx.spanId);

    // The same attempt as the DirectSpan path records it: same ids, start, events and end.
    const base = baseAttrs('process', 'lq', 'lazy.type');
    const twin = startDirectSpan(
      { ...sink, newSpanId: () => ctx.spanId },
      base.name,
      SpanKind.CONSUMER,
      ROOT_CONTEXT,
      { ...PARENT, traceFlags: TraceFlags.SAMPLED, isRemote: true },
      base.attributes,
      base.count,
      { 'animus.work.id': 'w-1', 'animus.work.attempt': 2, 'messaging.message.id': '42' },
      undefined,
      fields.startTime as number,
    ) as DirectSpan;
    expect(twin).toBeInstanceOf(DirectSpan);
    twin.addTrustedEvent(WORK_TRANSITION_EVENT, eventAttrs('queued', 'running'), fields.startTime as number);
    twin.addTrustedEvent(WORK_TRANSITION_EVENT, eventAttrs('running', 'completed'), fields.endTime as number);
    twin.setAttribute('animus.work.outcome', 'completed');
    twin.end(fields.endTime as number);
    const encoder = new DirectSpanEncoder();
    const ours = encoder.wrap(sink.resource, sink.scope, Buffer.from(encoder.encodeSpan(lazy)));
    const theirs = ProtobufTraceSerializer.serializeRequest([twin as unknown as ReadableSpan])!;
    expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
    expect(Buffer.from(ours).includes(Buffer.from('process lq'))).toBe(true);
  });

  it('a handler that uses the span gets a DirectSpan with the same start, parent and first event', async () => {
    const { queued, ended } = pipeline();
    let seen: Span | undefined;
    let traceIdInside = '';
    const scope = await attempt(item({ traceparent: traceparent('03') }), () => {
      seen = trace.getActiveSpan();
      seen?.setAttribute('handler.note', 'x');
      traceIdInside = trace.getActiveSpan()!.spanContext().traceId;
    });
    expect(seen).toBe(scope);
    expect(traceIdInside).toBe(PARENT.traceId);
    expect(queued).toHaveLength(0);
    expect(ended).toHaveLength(1);
    const span = ended[0]!;
    expect(span.parentSpanContext?.spanId).toBe(PARENT.spanId);
    expect(span.spanContext().spanId).toBe((scope as LazyAttemptSpan).spanContext().spanId);
    expect(span.kind).toBe(SpanKind.CONSUMER);
    expect(span.name).toBe('process lq');
    expect(span.attributes).toMatchObject({
      'messaging.destination.name': 'lq',
      'animus.work.type': 'lazy.type',
      'animus.work.id': 'w-1',
      'animus.work.attempt': 1,
      'messaging.message.id': '42',
      'handler.note': 'x',
      'animus.work.outcome': 'completed',
    });
    expect(span.events.map((e) => e.attributes)).toEqual([
      { 'animus.work.state.from': 'queued', 'animus.work.state.to': 'running' },
      { 'animus.work.state.from': 'running', 'animus.work.state.to': 'completed' },
    ]);
    // The first event is the attempt's start, as on the lazy path.
    expect(span.events[0]!.time).toEqual(span.startTime);
  });

  it('a failing attempt records the exception, error.type and status; the last one is dead', async () => {
    const { queued, ended } = pipeline();
    await attempt(item({ traceparent: traceparent() }, 1), () => {
      throw Object.assign(new Error('boom'), { code: 'E_BOOM' });
    });
    await attempt(item({ traceparent: traceparent() }, 3), () => {
      throw new Error('last');
    });
    expect(queued).toHaveLength(0);
    expect(ended.map((s) => s.attributes['animus.work.outcome'])).toEqual(['retry', 'dead']);
    expect(ended.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR]);
    expect(ended[0]!.attributes['error.type']).toBe('E_BOOM');
    expect(ended[0]!.events.map((e) => e.name)).toEqual([
      WORK_TRANSITION_EVENT,
      WORK_TRANSITION_EVENT,
      'exception',
    ]);
    expect(ended[1]!.events[1]!.attributes).toEqual({
      'animus.work.state.from': 'running',
      'animus.work.state.to': 'dead',
    });
  });

  it("the handler runs in a context with the attempt as span and the caller's values", async () => {
    pipeline();
    const key = Symbol('caller value');
    const outer = context.active().setValue(key, 'kept');
    let inside: unknown;
    let derived: unknown;
    await context.with(outer, () =>
      attempt(item({ traceparent: traceparent() }), () => {
        inside = context.active().getValue(key);
        const next = context.active().setValue(Symbol('more'), 1);
        derived = [trace.getSpan(next) === trace.getActiveSpan(), next.getValue(key)];
      }),
    );
    expect(inside).toBe('kept');
    expect(derived).toEqual([true, 'kept']);
  });

  it("attempts of one batch take its first attempt's sink and context, until the next microtask", async () => {
    const { queued } = pipeline();
    const key = Symbol('batch');
    const batch = [item({ traceparent: traceparent() }), item({ traceparent: traceparent() })];
    const other = [item({ traceparent: traceparent() })];
    const seen: unknown[] = [];
    const start = (of: ClaimedItemLike[], claimed: ClaimedItemLike) => {
      const scope = traceWorkAttempts(claimed, of);
      scope.run(() => seen.push(context.active().getValue(key)));
      scope.completed();
      return scope;
    };
    // One synchronous run (as the worker starts a read's attempts): the batch's context is its
    // first attempt's; another batch looks its own up.
    context.with(ROOT_CONTEXT.setValue(key, 'a'), () => start(batch, batch[0]!));
    context.with(ROOT_CONTEXT.setValue(key, 'b'), () => {
      start(batch, batch[1]!);
      start(other, other[0]!);
    });
    expect(seen).toEqual(['a', 'a', 'b']);
    start(batch, batch[0]!);
    expect(queued).toHaveLength(4);
    // Past a microtask the same batch is looked up again: with tracing gone, not lazily.
    await Promise.resolve();
    setDirectSpanSink(undefined);
    trace.disable();
    expect(traceWorkAttempts(batch[0]!, batch)).not.toBeInstanceOf(LazyAttemptSpan);
    expect(queued).toHaveLength(4);
  });

  it('checks the ids of a traceparent of the right form when it is encoded: with invalid ones it is a root span', async () => {
    const { sink, queued } = pipeline();
    const zeros = '0'.repeat(32);
    const bad = [
      `00-${PARENT.traceId.toUpperCase()}-${PARENT.spanId}-01`, // upper-case digits
      `00-${zeros}-${PARENT.spanId}-01`, // an all-zero trace id
      `00-${PARENT.traceId}-${'0'.repeat(16)}-01`, // an all-zero parent span id
      `00-${PARENT.traceId.slice(0, 31)}g-${PARENT.spanId}-01`, // not hex
      `00-${PARENT.traceId.slice(0, 31)}é-${PARENT.spanId}-01`, // not ASCII
    ];
    const table = new RecordTable();
    const records = new RecordBuffer();
    const encoder = new DirectSpanEncoder();
    for (const header of bad) {
      queued.length = 0;
      const scope = await attempt(item({ traceparent: header }));
      // Lazy (only the form was checked as it began in a context without a span) …
      expect(scope).toBeInstanceOf(LazyAttemptSpan);
      expect(queued).toEqual([scope]);
      const lazy = scope as LazyAttemptSpan;
      // … and, encoded, the root span of a trace of its own: never a record (whose parent is
      // its traceparent), no parent, the trace id its span context says after the end.
      expect(lazy.writeRecord(records, table)).toBe(false);
      const fields = blankFields();
      lazy.fillFields(fields);
      expect(fields.parent).toBeUndefined();
      const ctx = lazy.spanContext();
      expect(ctx.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(ctx.traceId).not.toBe(zeros);
      expect(header).not.toContain(ctx.traceId);
      expect(fields.context.traceId).toBe(ctx.traceId);
      expect(lazy.spanContext().traceId).toBe(ctx.traceId); // the same each time
      const bytes = Buffer.from(
        encoder.wrap(sink.resource, sink.scope, Buffer.from(encoder.encodeSpan(lazy))),
      );
      const [span] = protobufSpans(bytes);
      expect(span!.traceId).toBe(ctx.traceId);
      expect(span!.parentSpanId).toBe('');
      expect(span!.name).toBe('process lq');
    }
    expect(records.length).toBe(0);
    // A valid one stays the child of its traceparent, and a record.
    const scope = (await attempt(item({ traceparent: traceparent() }))) as LazyAttemptSpan;
    expect(scope.writeRecord(records, table)).toBe(true);
    expect(scope.spanContext().traceId).toBe(PARENT.traceId);
  });

  it('is not used where the attempt cannot be recorded lazily; those attempts are still right', async () => {
    const cases: Array<{ headers: unknown; options?: Parameters<typeof pipeline>[0]; recording: boolean }> = [
      { headers: { traceparent: traceparent('00') }, recording: false }, // unsampled parent
      { headers: { traceparent: traceparent(), tracestate: 'k=v' }, recording: true },
      { headers: { traceparent: 'garbage' }, recording: true }, // a root then
      { headers: {}, recording: true },
      { headers: null, recording: true },
      { headers: { traceparent: traceparent() }, options: { enqueue: false }, recording: true },
      {
        headers: { traceparent: traceparent() },
        options: { sampler: new AlwaysOnSampler() },
        recording: true,
      },
    ];
    for (const c of cases) {
      const { queued, ended } = pipeline(c.options);
      const scope = await attempt(item(c.headers));
      expect(scope).not.toBeInstanceOf(LazyAttemptSpan);
      expect(queued).toHaveLength(0);
      expect(ended).toHaveLength(c.recording ? 1 : 0);
      setDirectSpanSink(undefined);
      trace.disable();
    }
    // Under a span, a traceparent of the right form with invalid ids: not lazy (the attempt is
    // then the active span's child), and so it is.
    {
      const { queued, ended, sink } = pipeline();
      const outer = startDirectSpan(sink, 'outer', SpanKind.INTERNAL, ROOT_CONTEXT, undefined, {}, 0, {});
      const badIds = `00-${'0'.repeat(32)}-${PARENT.spanId}-01`;
      const scope = await context.with(trace.setSpan(ROOT_CONTEXT, outer), () =>
        attempt(item({ traceparent: badIds })),
      );
      expect(scope).not.toBeInstanceOf(LazyAttemptSpan);
      expect(queued).toHaveLength(0);
      expect(ended).toHaveLength(1);
      expect(ended[0]!.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
      expect(ended[0]!.spanContext().traceId).toBe(outer.spanContext().traceId);
      setDirectSpanSink(undefined);
      trace.disable();
    }
    // Suppressed tracing: no lazy attempt, no span.
    const { queued, ended } = pipeline();
    const scope = await context.with(suppressTracing(context.active()), () =>
      attempt(item({ traceparent: traceparent() })),
    );
    expect(scope).not.toBeInstanceOf(LazyAttemptSpan);
    expect([queued.length, ended.length]).toEqual([0, 0]);
  });
});

describe('lazy attempts and a broken pipeline', () => {
  it('a sink that throws costs the attempt its span, never its handler or outcome', async () => {
    const { sink } = pipeline();
    setDirectSpanSink({
      ...sink,
      suppressed: () => {
        throw new Error('broken sink');
      },
    });
    let ran = false;
    const scope = await attempt(item({ traceparent: traceparent() }), () => {
      ran = true;
    });
    expect(ran).toBe(true);
    expect(scope).not.toBeInstanceOf(LazyAttemptSpan);
  });
});

describe('lazy attempts under initTelemetry', () => {
  it('a submit, a lazy attempt and a child span of another attempt arrive as one trace', async () => {
    resetOtelApi();
    const from = otlp.received.length;
    const handle = await initTelemetry(resolveConfig({ telemetry: { otlpEndpoint: otlp.endpoint } }), {
      env: { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' },
    });
    const producer = startWorkSpan({ queue: 'lq', workType: 'lazy.type' });
    producer.end();
    const headers = JSON.parse(JSON.stringify(producer.headers)) as unknown;
    const quiet = await attempt(item(headers));
    expect(quiet).toBeInstanceOf(LazyAttemptSpan);
    const busy = await attempt(item(headers, 2), () => {
      trace.getTracer('handler').startSpan('handler work').end();
    });
    expect(busy).toBeInstanceOf(LazyAttemptSpan);
    await handle.shutdown();
    propagation.disable();
    const spans = otlp.received
      .slice(from)
      .filter((r) => r.path === '/v1/traces')
      .flatMap((r) => protobufSpans(r.raw));
    const send = spans.find((s) => s.name === 'send lq')!;
    const processed = spans.filter((s) => s.name === 'process lq');
    const child = spans.find((s) => s.name === 'handler work')!;
    expect(processed).toHaveLength(2);
    for (const p of processed) {
      expect(p.traceId).toBe(send.traceId);
      expect(p.parentSpanId).toBe(send.spanId);
      expect(p.attributeKeys).toEqual([
        'messaging.system',
        'messaging.destination.name',
        'messaging.operation.type',
        'messaging.operation.name',
        'animus.work.type',
        'animus.work.id',
        'animus.work.attempt',
        'messaging.message.id',
        'animus.work.outcome',
      ]);
      expect(p.events).toEqual([WORK_TRANSITION_EVENT, WORK_TRANSITION_EVENT]);
    }
    expect(processed.map((p) => p.spanId).sort()).toEqual(
      [quiet, busy].map((s) => (s as LazyAttemptSpan).spanContext().spanId).sort(),
    );
    expect(child.traceId).toBe(send.traceId);
    expect(child.parentSpanId).toBe((busy as LazyAttemptSpan).spanContext().spanId);
  });
});
