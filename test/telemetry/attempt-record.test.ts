// Lazy attempts encoded on the export thread from records (attempt-record.ts): the requests
// made from records are the bytes the main thread's encoder writes for the same attempts (and
// so the bytes the SDK serializer writes: attempt-span.test.ts), alone and mixed with spans
// encoded on the main thread; the direct span queue sends records only once its sender is
// ready and encodes on the main thread until then; the table of shared parts is bounded; the
// real export thread loads the record module (under vitest through tsx) and delivers what it
// encodes to a real OTLP receiver; a thread that cannot load it leaves the encoding here.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import {
  fillAttemptFields,
  RECORD_MODULE,
  RecordBuffer,
  RecordEncoder,
  RecordTable,
  writeAttemptRecord,
} from '../../src/telemetry/attempt-record.js';
import type { EndedAttempt, RecordBatch, SharedBase } from '../../src/telemetry/attempt-record.js';
import { LazyAttemptSpan } from '../../src/telemetry/attempt-span.js';
import { DirectSpanEncoder } from '../../src/telemetry/direct-span-encoder.js';
import type { EncodableSpan } from '../../src/telemetry/direct-span-encoder.js';
import { DirectSpanQueue, RECORD_BYTES } from '../../src/telemetry/direct-span-queue.js';
import type { RecordSender } from '../../src/telemetry/direct-span-queue.js';
import { frozenAttributes, setDirectSpanSink, startDirectSpan } from '../../src/telemetry/direct-spans.js';
import type { DirectSpan, DirectSpanSink } from '../../src/telemetry/direct-spans.js';
import { initTelemetry, traceWorkAttempts } from '../../src/telemetry/index.js';
import type { ClaimedItemLike } from '../../src/telemetry/index.js';
import { ThreadedSpanExporter } from '../../src/telemetry/span-export-thread.js';
import { baseAttrs, eventAttrs, startWorkSpan } from '../../src/telemetry/work-spans.js';
import { protobufSpans, resetOtelApi, useOtlpReceiver } from '../support/otlp-receiver.js';

const otlp = useOtlpReceiver();

const PROTO_MODULE = createRequire(import.meta.url).resolve('@opentelemetry/exporter-trace-otlp-proto');
const TSX_API = import.meta.resolve('tsx/esm/api');
const PARENT = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
const TRACEPARENT = `00-${PARENT.traceId}-${PARENT.spanId}-01`;

/** One ended attempt of queue q1, its span id given as hex (`overrides` replace fields). */
function oneAttempt(overrides: Partial<EndedAttempt> = {}): EndedAttempt {
  return {
    traceparent: TRACEPARENT,
    rootTraceId: '',
    idsUnchecked: false,
    spanId: '00f067aa0ba902b7',
    spanIdHi: 0,
    spanIdLo: 0,
    start: 1,
    end: 2,
    base: baseAttrs('process', 'q1', 't1'),
    workId: 'w',
    attempt: 1,
    messageId: '1',
    outcome: 'completed',
    firstEvent: eventAttrs('queued', 'running'),
    lastEvent: eventAttrs('running', 'completed'),
    ...overrides,
  };
}

function item(n: number, queue = 'rq'): ClaimedItemLike {
  return {
    id: `w-${String(n)}`,
    queue,
    workType: 'record.type',
    attempts: 1 + (n % 3),
    maxAttempts: 5,
    msgId: BigInt(1000 + n),
    headers: { traceparent: TRACEPARENT },
  };
}

/** A registered provider and a direct sink whose lazy attempts land in `queued`. */
function pipeline() {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'records' }),
  });
  trace.setGlobalTracerProvider(provider);
  const probe = provider.getTracer('animus', '1.0.0').startSpan('probe') as unknown as ReadableSpan;
  const ids = new RandomIdGenerator();
  const queued: EncodableSpan[] = [];
  const sink: DirectSpanSink = {
    provider,
    resource: probe.resource,
    scope: probe.instrumentationScope,
    w3cPropagation: true,
    processors: [{ onStart() {}, onEnd() {} }],
    enqueue: (span: EncodableSpan) => queued.push(span),
    newTraceId: () => ids.generateTraceId(),
    newSpanId: () => ids.generateSpanId(),
    suppressed: isTracingSuppressed,
  };
  setDirectSpanSink(sink);
  return { sink, queued };
}

/** `n` ended lazy attempts (completed), as the worker ends them. */
async function attempts(n: number, queue = 'rq'): Promise<LazyAttemptSpan[]> {
  const out: LazyAttemptSpan[] = [];
  for (let i = 0; i < n; i++) {
    const scope = traceWorkAttempts(item(i, queue));
    await scope.run(() => undefined);
    scope.completed();
    expect(scope).toBeInstanceOf(LazyAttemptSpan);
    out.push(scope as LazyAttemptSpan);
  }
  return out;
}

/** An ended INTERNAL DirectSpan of `sink` (a span the queue encodes on the main thread). */
function endedDirectSpan(sink: DirectSpanSink): DirectSpan {
  const base = frozenAttributes({ 'messaging.system': 'pgmq' });
  const direct = startDirectSpan(
    sink,
    'direct',
    SpanKind.INTERNAL,
    ROOT_CONTEXT,
    undefined,
    base.attributes,
    base.count,
    {},
  ) as DirectSpan;
  direct.end();
  return direct;
}

/** The request the main thread's encoder makes for `spans`. */
function mainRequest(sink: Pick<DirectSpanSink, 'resource' | 'scope'>, spans: EncodableSpan[]): Buffer {
  const encoder = new DirectSpanEncoder();
  const entries = Buffer.concat(spans.map((s) => Buffer.from(encoder.encodeSpan(s))));
  return Buffer.from(encoder.wrap(sink.resource, sink.scope, entries));
}

/** Plain data, as a batch arrives on the thread (structured clone: no frozen objects). */
const cloned = <T>(value: T): T => structuredClone(value);

/** A batch of records alone (no entries made on the main thread). */
const recordsOnly = (
  sink: { resource: unknown; scope: RecordBatch['scope'] },
  records: Uint8Array,
  count: number,
): RecordBatch => ({
  resource: sink.resource,
  scope: sink.scope,
  bytes: undefined,
  layout: undefined,
  records,
  count,
});

/** start, end, work id, attempt, message id, outcome. */
type AttemptCase = [number, number, string, number, string, string];

/**
 * Case `n` of `cases` as an ended attempt (`attemptOf` gives its traceparent, span id, base and
 * last event); all of them written as records (with the span id as two words when `words(n)`)
 * and encoded on the "thread" side in one batch, and the same attempts encoded on the main
 * thread. Returns the thread's encoder, the batch, and the main thread's request.
 */
function recordsAndMain(
  cases: readonly AttemptCase[],
  attemptOf: (n: number) => { traceparent: string; id: bigint; base: SharedBase; lastEvent: Attributes },
  words: (n: number) => boolean,
) {
  const resource = { attributes: { 'service.name': 'records' } };
  const scope = { name: 'animus', version: '1.0.0' };
  const table = new RecordTable();
  const records = new RecordBuffer();
  const twins: EncodableSpan[] = [];
  cases.forEach(([start, end, workId, attempt, messageId, outcome], n) => {
    const { traceparent, id, base, lastEvent } = attemptOf(n);
    const ended: EndedAttempt = {
      traceparent,
      rootTraceId: '',
      idsUnchecked: false,
      spanId: id.toString(16).padStart(16, '0'),
      spanIdHi: Number(id >> 32n),
      spanIdLo: Number(id & 0xffffffffn),
      start,
      end,
      base,
      workId,
      attempt,
      messageId,
      outcome,
      firstEvent: eventAttrs('queued', 'running'),
      lastEvent,
    };
    expect(writeAttemptRecord(records, table, words(n) ? { ...ended, spanId: '' } : ended)).toBe(true);
    twins.push({ resource, instrumentationScope: scope, fillFields: (f) => fillAttemptFields(f, ended) });
  });
  const encoder = new RecordEncoder();
  encoder.define(cloned(table.takeDefinitions()));
  const sink = { resource, scope };
  return {
    encoder,
    batch: recordsOnly(sink, records.take(), cases.length),
    expected: mainRequest(sink, twins),
  };
}

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterEach(() => {
  setDirectSpanSink(undefined);
  trace.disable();
});

describe('attempt records', () => {
  it('encode to the bytes the main thread writes for the same attempts', async () => {
    const { sink } = pipeline();
    const spans = await attempts(5);
    const table = new RecordTable();
    const records = new RecordBuffer();
    for (const span of spans) expect(span.writeRecord(records, table)).toBe(true);
    expect(records.count).toBe(5);
    const encoder = new RecordEncoder();
    encoder.define(cloned(table.takeDefinitions()));
    // Shared parts are defined once: the next batch carries none.
    expect(table.takeDefinitions()).toEqual([]);
    const batch = recordsOnly(
      {
        resource: cloned({ attributes: (sink.resource as ReadableSpan['resource']).attributes }),
        scope: cloned({ ...sink.scope }),
      },
      records.take(),
      5,
    );
    const ours = Buffer.from(encoder.encode(batch));
    expect(ours.equals(mainRequest(sink, spans))).toBe(true);
    expect(protobufSpans(ours).map((s) => s.name)).toEqual(Array(5).fill('process rq'));
    // A second batch of the same attempts reuses the shared parts (and the encoder's caches).
    expect(Buffer.from(encoder.encode(batch)).equals(ours)).toBe(true);
  });

  it('encode any values as the fields fillAttemptFields hands the encoder are encoded', () => {
    const bases = [baseAttrs('process', 'q1', 't1'), baseAttrs('process', 'q-é', 'type.two')];
    const finals = [eventAttrs('running', 'completed'), eventAttrs('running', 'queued')];
    // Odd values: an end before the start, large and zero attempts, UTF-8, ids long enough
    // for lengths of two and three bytes, times with fractions of a millisecond.
    const cases: AttemptCase[] = [
      [1_764_000_000_123.456, 1_764_000_000_999.5, 'w-1', 1, '42', 'completed'],
      [1_764_000_000_500, 1_764_000_000_100, 'w-é-✓', 0, '0', 'retry'],
      [1, 2, 'x'.repeat(300), 2 ** 40, '9'.repeat(150), 'dead'],
      [1_764_000_000_000, 1_764_000_000_000, 'y'.repeat(20_000), 7, '12345678901234567890', 'completed'],
    ];
    const { encoder, batch, expected } = recordsAndMain(
      cases,
      (n) => ({
        traceparent: TRACEPARENT,
        // Even cases: a small id (leading zeros); odd ones: the top bit set.
        id: (n % 2 === 0 ? 0x1234567890abcn : 0xf0e1d2c3b4a59680n) + BigInt(n),
        base: bases[n % 2]!,
        lastEvent: finals[n % 2]!,
      }),
      // Cases 2 and 3 give the record the id as its two words (as a lazy attempt does).
      (n) => n >= 2,
    );
    const ours = Buffer.from(encoder.encode(batch));
    expect(ours.equals(expected)).toBe(true);
    expect(protobufSpans(ours).map((s) => s.name)).toEqual([
      'process q1',
      'process q-é',
      'process q1',
      'process q-é',
    ]);
  });

  it('write every value anew when consecutive attempts share a shape and the sizes of their values', () => {
    // The thread writes an attempt like the one before it (same shape, values of the same
    // sizes) over that one's bytes: each attempt here differs from the last in every value
    // (ids, times, strings of the same length), and now and then in a size too.
    const base = baseAttrs('process', 'q1', 't1');
    const cases: AttemptCase[] = [
      [1_764_000_000_001.25, 1_764_000_000_002.5, 'aaaa-1', 1, '100', 'completed'],
      [1_764_000_000_003, 1_764_000_000_004.75, 'bbbb-2', 2, '101', 'abandoned'],
      [1_764_000_000_009, 1_764_000_000_008, 'cccc-3', 127, '102', 'completed'],
      [1_764_000_000_010, 1_764_000_000_011, 'dddd-4', 128, '103', 'completed'],
      [1_764_000_000_012, 1_764_000_000_013, 'eeee-5', 300, '104', 'completed'],
      [1_764_000_000_014, 1_764_000_000_015, 'ffff-6', 301, '1050', 'completed'],
      [1_764_000_000_016, 1_764_000_000_017, 'gggg-7', 302, '1060', 'completed'],
      [1_764_000_000_018, 1_764_000_000_019, 'hhhh-88', 302, '1070', 'completed'],
    ];
    const hex = (k: number, digits: number) => (k + 1).toString(16).repeat(digits).slice(0, digits);
    const { encoder, batch, expected } = recordsAndMain(
      cases,
      (n) => ({
        traceparent: `00-${hex(n, 32)}-${hex(n + 7, 16)}-01`,
        id: BigInt(`0x${hex(n + 3, 16)}`),
        base,
        lastEvent: eventAttrs('running', 'completed'),
      }),
      () => true,
    );
    expect(Buffer.from(encoder.encode(batch)).equals(expected)).toBe(true);
    // The next batch starts from the last attempt of this one.
    expect(Buffer.from(encoder.encode(batch)).equals(expected)).toBe(true);
    const spans = protobufSpans(expected);
    expect(spans.map((s) => s.traceId)).toEqual(cases.map((_, n) => hex(n, 32)));
    expect(spans.map((s) => s.parentSpanId)).toEqual(cases.map((_, n) => hex(n + 7, 16)));
  });

  it('encode a batch larger than their first buffer (it grows; no entry is cut)', () => {
    // 300 entries of about 1.3 kB: several times the 64 kB the encoder starts with.
    const cases: AttemptCase[] = Array.from({ length: 300 }, (_, n) => [
      1_764_000_000_000 + n,
      1_764_000_000_001 + n,
      `${String(n).padStart(4, '0')}-${'w'.repeat(1000)}`,
      1 + (n % 3),
      String(10_000 + n),
      'completed',
    ]);
    const { encoder, batch, expected } = recordsAndMain(
      cases,
      () => ({
        traceparent: TRACEPARENT,
        id: 0x1234567890abcn,
        base: baseAttrs('process', 'q1', 't1'),
        lastEvent: eventAttrs('running', 'completed'),
      }),
      () => true,
    );
    expect(expected.length).toBeGreaterThan(4 * 64 * 1024);
    expect(Buffer.from(encoder.encode(batch)).equals(expected)).toBe(true);
    expect(protobufSpans(expected)).toHaveLength(300);
  });

  it('are not written when a string is longer than a record holds or the span id is not hex (the attempt is encoded here then)', () => {
    const table = new RecordTable();
    const records = new RecordBuffer();
    const ended = oneAttempt();
    expect(writeAttemptRecord(records, table, ended)).toBe(true);
    const one = records.length;
    expect(writeAttemptRecord(records, table, { ...ended, workId: 'z'.repeat(70_000) })).toBe(false);
    expect(writeAttemptRecord(records, table, { ...ended, workId: 'é'.repeat(40_000) })).toBe(false);
    // A span id given as hex must be 16 lowercase hex digits (the record keeps its 8 bytes).
    expect(writeAttemptRecord(records, table, { ...ended, spanId: '00F067AA0BA902B7' })).toBe(false);
    expect(writeAttemptRecord(records, table, { ...ended, spanId: '00f067aa0ba902' })).toBe(false);
    expect([records.length, records.count]).toEqual([one, 1]);
    expect(writeAttemptRecord(records, table, ended)).toBe(true);
    expect([records.length, records.count]).toEqual([2 * one, 2]);
  });

  it('with ids not checked yet, check them from the bytes written: valid ones stay, others are taken back', () => {
    const table = new RecordTable();
    const records = new RecordBuffer();
    const ended = oneAttempt({ idsUnchecked: true, spanId: '', spanIdHi: 0x00f067aa, spanIdLo: 0x0ba902b8 });
    expect(writeAttemptRecord(records, table, ended)).toBe(true);
    const one = records.length;
    const ids = TRACEPARENT.slice(3, 52);
    const withIds = (s: string) => `00-${s}-01`;
    const bad = [
      withIds(ids.toUpperCase()), // upper-case digits
      withIds(`${'0'.repeat(32)}${ids.slice(32)}`), // an all-zero trace id
      withIds(`${ids.slice(0, 33)}${'0'.repeat(16)}`), // an all-zero parent span id
      withIds(`${ids.slice(0, 31)}g${ids.slice(32)}`), // not hex
      withIds(`${ids.slice(0, 31)}é${ids.slice(32)}`), // not ASCII: 56 bytes
      withIds(`${ids.slice(0, 40)}\u0130${ids.slice(41)}`), // İ, whose code unit's low byte is '0'
    ];
    for (const traceparent of bad) {
      expect(traceparent).toHaveLength(55);
      expect(writeAttemptRecord(records, table, { ...ended, traceparent }), traceparent).toBe(false);
      expect([records.length, records.count]).toEqual([one, 1]);
    }
    // Checked already: written as they are (the caller checked them).
    expect(writeAttemptRecord(records, table, { ...ended, idsUnchecked: false })).toBe(true);
    expect(writeAttemptRecord(records, table, ended)).toBe(true);
    expect([records.length, records.count]).toEqual([3 * one, 3]);
    // The records are the ones written, in order: the encoder reads all three.
    const encoder = new RecordEncoder();
    encoder.define(cloned(table.takeDefinitions()));
    const sink = { resource: { attributes: {} }, scope: { name: 'animus' } };
    const spans = protobufSpans(Buffer.from(encoder.encode(recordsOnly(sink, records.take(), 3))));
    expect(spans.map((s) => [s.traceId, s.parentSpanId, s.spanId])).toEqual(
      Array(3).fill([TRACEPARENT.slice(3, 35), TRACEPARENT.slice(36, 52), '00f067aa0ba902b8']),
    );
  });

  it('keep their place among spans encoded on the main thread', async () => {
    const { sink } = pipeline();
    const lazy = await attempts(3);
    const base = frozenAttributes({ 'messaging.system': 'pgmq' });
    const direct = [0, 1].map((i) => {
      const span = startDirectSpan(
        sink,
        `direct ${String(i)}`,
        SpanKind.INTERNAL,
        ROOT_CONTEXT,
        undefined,
        base.attributes,
        base.count,
        { i },
      ) as DirectSpan;
      span.end();
      return span;
    });
    // direct 0, lazy 0, lazy 1, direct 1, lazy 2
    const order: EncodableSpan[] = [direct[0]!, lazy[0]!, lazy[1]!, direct[1]!, lazy[2]!];
    const table = new RecordTable();
    const records = new RecordBuffer();
    const main = new DirectSpanEncoder();
    const parts: Buffer[] = [];
    const layout: number[] = [];
    for (const span of order) {
      if (span instanceof LazyAttemptSpan) {
        expect(span.writeRecord(records, table)).toBe(true);
        layout.push(0);
      } else {
        const entry = Buffer.from(main.encodeSpan(span));
        parts.push(entry);
        layout.push(entry.length);
      }
    }
    const encoder = new RecordEncoder();
    encoder.define(cloned(table.takeDefinitions()));
    const ours = encoder.encode({
      resource: cloned({ attributes: (sink.resource as ReadableSpan['resource']).attributes }),
      scope: cloned({ ...sink.scope }),
      bytes: new Uint8Array(Buffer.concat(parts)),
      layout,
      records: records.take(),
      count: order.length,
    });
    expect(Buffer.from(ours).equals(mainRequest(sink, order))).toBe(true);
    expect(protobufSpans(Buffer.from(ours)).map((s) => s.name)).toEqual([
      'direct 0',
      'process rq',
      'process rq',
      'direct 1',
      'process rq',
    ]);
  });

  it('name shared parts up to a bound; past it an attempt is not a record', async () => {
    pipeline();
    const [span] = await attempts(1);
    const table = new RecordTable();
    for (let i = 0; i < 4096; i++) expect(table.attributes(Object.freeze({ i }))).toBe(i + 1);
    expect(table.attributes(Object.freeze({ i: -1 }))).toBe(0);
    const records = new RecordBuffer();
    expect(span!.writeRecord(records, table)).toBe(false);
    expect(records.length).toBe(0);
    // Known parts keep their numbers.
    const known = eventAttrs('queued', 'running');
    const other = new RecordTable();
    expect(other.attributes(known)).toBe(1);
    expect(other.attributes(known)).toBe(1);
    expect(other.takeDefinitions()).toEqual([1, 0, known]);
  });

  it('an undefined shared part fails the batch with a message that names it', async () => {
    const { sink } = pipeline();
    const spans = await attempts(1);
    const table = new RecordTable();
    const records = new RecordBuffer();
    spans[0]!.writeRecord(records, table);
    const encoder = new RecordEncoder();
    expect(() =>
      encoder.encode({
        resource: sink.resource,
        scope: sink.scope,
        bytes: undefined,
        layout: undefined,
        records: records.take(),
        count: 1,
      }),
    ).toThrow(/shared part 1 is not defined/);
  });
});

describe('the direct span queue with a record sender', () => {
  /** A queue whose records go to an in-process RecordEncoder (the thread's code, run here). */
  function queueWith(ready: () => boolean, later = false, maxExportBytes?: number) {
    const sent: Array<{ bytes: Buffer; count: number; records: boolean }> = [];
    const table = new RecordTable();
    const encoder = new RecordEncoder();
    const sender: RecordSender = {
      table,
      isReady: ready,
      send(batch, done) {
        encoder.define(cloned(table.takeDefinitions()));
        const request = encoder.encode({
          ...batch,
          resource: cloned({ attributes: (batch.resource as ReadableSpan['resource']).attributes }),
          scope: cloned({ ...batch.scope }),
          records: cloned(batch.records),
        });
        sent.push({ bytes: Buffer.from(request), count: batch.count, records: true });
        if (later) setImmediate(done);
        else done();
      },
    };
    const queue = new DirectSpanQueue(
      new DirectSpanEncoder(),
      (bytes, count, done) => {
        sent.push({ bytes: Buffer.from(bytes), count, records: false });
        done();
      },
      {
        maxQueueSize: 4096,
        maxExportBatchSize: 4,
        ...(maxExportBytes === undefined ? {} : { maxExportBytes }),
        scheduledDelayMillis: 60_000,
        exportTimeoutMillis: 30_000,
      },
      sender,
    );
    return { queue, sent };
  }

  it('sends records once the sender is ready, with the bytes of the main-thread path, in batches', async () => {
    const { sink } = pipeline();
    let ready = false;
    const { queue, sent } = queueWith(() => ready);
    const spans = await attempts(10);
    for (const span of spans.slice(0, 2)) queue.addSampled(span);
    await queue.forceFlush();
    ready = true;
    for (const span of spans.slice(2)) queue.addSampled(span);
    await queue.forceFlush();
    expect(sent.map((s) => [s.records, s.count])).toEqual([
      [false, 2],
      [true, 4],
      [true, 4],
    ]);
    expect(sent[0]!.bytes.equals(mainRequest(sink, spans.slice(0, 2)))).toBe(true);
    expect(sent[1]!.bytes.equals(mainRequest(sink, spans.slice(2, 6)))).toBe(true);
    expect(sent[2]!.bytes.equals(mainRequest(sink, spans.slice(6)))).toBe(true);
  });

  it("writes a turn's attempts as records when the turn ends, not as each ends; behind a span encoded here they wait for their batch", async () => {
    const { sink } = pipeline();
    /** The spans' indices in the order their records were written. */
    const written: number[] = [];
    const watched = (spans: LazyAttemptSpan[]) =>
      spans.map((span, i) => {
        const write = span.writeRecord.bind(span);
        span.writeRecord = (out, table) => {
          written.push(i);
          return write(out, table);
        };
        return span;
      });
    const { queue, sent } = queueWith(() => true);
    const spans = watched(await attempts(3));
    for (const span of spans) queue.addSampled(span);
    // The work that ended them goes on first.
    expect(written).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toEqual([0, 1, 2]);
    expect(sent).toHaveLength(0); // not a full batch: it waits for the schedule delay
    await queue.forceFlush();
    expect(sent.map((s) => [s.records, s.count])).toEqual([[true, 3]]);
    expect(sent[0]!.bytes.equals(mainRequest(sink, spans))).toBe(true);

    // Behind a span that is encoded here, an attempt keeps its place: written with the batch.
    written.length = 0;
    const next = queueWith(() => true);
    const direct = endedDirectSpan(sink);
    const [lazy] = watched(await attempts(1));
    next.queue.addSampled(direct);
    next.queue.addSampled(lazy!);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toEqual([]);
    await next.queue.forceFlush();
    expect(written).toEqual([0]);
    expect(next.sent).toHaveLength(1);
    expect(next.sent[0]!.bytes.equals(mainRequest(sink, [direct, lazy!]))).toBe(true);
  });

  it('counts a record as RECORD_BYTES towards maxExportBytes', async () => {
    const { sink } = pipeline();
    const { queue, sent } = queueWith(() => true, false, 2 * RECORD_BYTES);
    const spans = await attempts(7);
    for (const span of spans) queue.addSampled(span);
    await queue.forceFlush();
    expect(sent.map((s) => [s.records, s.count])).toEqual([
      [true, 2],
      [true, 2],
      [true, 2],
      [true, 1],
    ]);
    expect(sent[3]!.bytes.equals(mainRequest(sink, spans.slice(6)))).toBe(true);
  });

  it('mixes spans encoded here and records in one batch, in the order they ended', async () => {
    const { sink } = pipeline();
    const { queue, sent } = queueWith(() => true);
    const lazy = await attempts(3);
    const direct = endedDirectSpan(sink);
    const order: EncodableSpan[] = [lazy[0]!, direct, lazy[1]!, lazy[2]!];
    for (const span of order) queue.addSampled(span);
    await queue.forceFlush();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.records).toBe(true);
    expect(sent[0]!.bytes.equals(mainRequest(sink, order))).toBe(true);
  });

  it('keeps sending in order under a load that never lets it empty (its index is compacted)', async () => {
    pipeline();
    // Each send is answered a turn later and one batch (4) leaves per turn while 6 spans end:
    // the queue is never empty until the flush, and its index passes the compaction point.
    const { queue, sent } = queueWith(() => true, true);
    const spans = await attempts(6);
    for (let round = 0; round < 1500; round++) {
      for (const span of spans) queue.addSampled(span);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(queue.size).toBeGreaterThan(1000);
    await queue.forceFlush();
    expect(queue.size).toBe(0);
    const total = sent.reduce((n, s) => n + s.count, 0);
    expect(total).toBe(1500 * 6);
    expect(sent.every((s) => s.records)).toBe(true);
    // The requests hold the attempts in the order they were added, cycling through the six.
    const ids = spans.map((s) => s.spanContext().spanId);
    const received = sent.flatMap((s) => protobufSpans(s.bytes).map((p) => p.spanId));
    expect(received).toEqual(Array.from({ length: total }, (_, i) => ids[i % 6]));
  });
});

describe('the export thread with the record module', () => {
  /** An exporter to the receiver's `path` whose thread loads the record module. */
  const recordsExporter = (path: string) =>
    new ThreadedSpanExporter({
      exporterModule: PROTO_MODULE,
      exporterConfig: { url: `${otlp.endpoint}${path}` },
      recordModule: RECORD_MODULE,
      recordLoader: TSX_API,
    });

  it('loads it, encodes records there and delivers them to the receiver', async () => {
    const { sink } = pipeline();
    const exporter = recordsExporter('/records/v1/traces');
    try {
      await expect(exporter.recordsReady()).resolves.toBe(true);
      const sender = exporter.records!;
      expect(sender.isReady()).toBe(true);
      const spans = await attempts(7);
      const records = new RecordBuffer();
      for (const span of spans) span.writeRecord(records, sender.table);
      const batch = recordsOnly(sink, records.take(), 7);
      const error = await new Promise<Error | undefined>((resolve) => sender.send(batch, resolve));
      expect(error).toBeUndefined();
      await exporter.forceFlush();
      const bodies = otlp.received.filter((r) => r.path === '/records/v1/traces');
      expect(bodies).toHaveLength(1);
      expect(bodies[0]!.raw.equals(mainRequest(sink, spans))).toBe(true);
    } finally {
      await exporter.shutdown();
    }
  });

  it('hands records over in shared memory, reused batch after batch, to the same requests', async () => {
    const { sink } = pipeline();
    const exporter = recordsExporter('/slots/v1/traces');
    try {
      await expect(exporter.recordsReady()).resolves.toBe(true);
      const sender = exporter.records!;
      const spans = await attempts(5);
      const memories: unknown[] = [];
      for (let round = 0; round < 3; round++) {
        const records = new RecordBuffer();
        for (const span of spans) span.writeRecord(records, sender.table);
        const slot = sender.slot!(records.length);
        expect(slot.buffer).toBeInstanceOf(SharedArrayBuffer);
        memories.push(slot.buffer);
        const batch = recordsOnly(sink, records.copyInto(slot), spans.length);
        const error = await new Promise<Error | undefined>((resolve) => sender.send(batch, resolve));
        expect(error).toBeUndefined();
        // Not transferred: the main thread's view still holds the records.
        expect(slot.byteLength).toBe(records.length);
      }
      // Each batch answered before the next was made: one slot served all three.
      expect(new Set(memories).size).toBe(1);
      await exporter.forceFlush();
      const bodies = otlp.received.filter((r) => r.path === '/slots/v1/traces');
      expect(bodies).toHaveLength(3);
      for (const body of bodies) expect(body.raw.equals(mainRequest(sink, spans))).toBe(true);
    } finally {
      await exporter.shutdown();
    }
  });

  it('a thread that cannot load it says so; the queue then encodes everything on the main thread', async () => {
    const { sink } = pipeline();
    const exporter = new ThreadedSpanExporter({
      exporterModule: PROTO_MODULE,
      exporterConfig: { url: `${otlp.endpoint}/no-records/v1/traces` },
      recordModule: pathToFileURL('/nonexistent/attempt-record.js').href,
    });
    try {
      await expect(exporter.recordsReady()).resolves.toBe(false);
      expect(exporter.records!.isReady()).toBe(false);
      const encoder = new DirectSpanEncoder();
      exporter.recycleBuffers((buffer) => encoder.recycle(buffer));
      const queue = new DirectSpanQueue(
        encoder,
        (bytes, count, done) => exporter.sendEncoded(bytes, count, done),
        {
          maxQueueSize: 2048,
          maxExportBatchSize: 512,
          scheduledDelayMillis: 60_000,
          exportTimeoutMillis: 30_000,
        },
        exporter.records,
      );
      const spans = await attempts(3);
      for (const span of spans) queue.addSampled(span);
      await queue.forceFlush();
      await exporter.forceFlush();
      const bodies = otlp.received.filter((r) => r.path === '/no-records/v1/traces');
      expect(bodies).toHaveLength(1);
      expect(bodies[0]!.raw.equals(mainRequest(sink, spans))).toBe(true);
    } finally {
      await exporter.shutdown();
    }
  });
});

describe('initTelemetry and records', () => {
  it('encodes lazy attempts on the export thread by default; they arrive in the trace of their submit', async () => {
    resetOtelApi();
    const from = otlp.received.length;
    const handle = await initTelemetry(
      resolveConfig({ telemetry: { otlpEndpoint: `${otlp.endpoint}/init-records` } }),
      {
        env: { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' },
      },
    );
    try {
      await expect(handle.threadRecords).resolves.toBe(true);
      const producer = startWorkSpan({ queue: 'iq', workType: 'record.type' });
      producer.end();
      const headers = JSON.parse(JSON.stringify(producer.headers)) as unknown;
      const scopes = [];
      for (let i = 0; i < 3; i++) {
        const scope = traceWorkAttempts({ ...item(i, 'iq'), headers });
        await scope.run(() => undefined);
        scope.completed();
        expect(scope).toBeInstanceOf(LazyAttemptSpan);
        scopes.push(scope as LazyAttemptSpan);
      }
      await handle.forceFlush();
      const spans = otlp.received
        .slice(from)
        .filter((r) => r.path === '/init-records/v1/traces')
        .flatMap((r) => protobufSpans(r.raw));
      const send = spans.find((s) => s.name === 'send iq')!;
      const processed = spans.filter((s) => s.name === 'process iq');
      expect(processed.map((p) => p.spanId).sort()).toEqual(scopes.map((s) => s.spanContext().spanId).sort());
      for (const p of processed) {
        expect(p.traceId).toBe(send.traceId);
        expect(p.parentSpanId).toBe(send.spanId);
      }
    } finally {
      await handle.shutdown();
      propagation.disable();
    }
  });

  it('threadRecords: false keeps the encoding on the main thread', async () => {
    resetOtelApi();
    const handle = await initTelemetry(
      resolveConfig({ telemetry: { otlpEndpoint: `${otlp.endpoint}/init-main` } }),
      {
        env: { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' },
        threadRecords: false,
      },
    );
    try {
      await expect(handle.threadRecords).resolves.toBe(false);
      expect(handle.directSpans).toBe(true);
    } finally {
      await handle.shutdown();
      propagation.disable();
    }
  });
});
