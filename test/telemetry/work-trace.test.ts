// Work-item traces: a submit in this process (PRODUCER span, trace context in the pgmq
// headers) processed by a worker in another process (CONSUMER span) forms one trace, checked
// by parent id; lifecycle events and the transitions counter; the link-only variant;
// garbage headers; queue gauges fed from pgmq.metrics_all().
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createWorkTracing,
  extractTraceContext,
  injectTraceHeaders,
  recordWorkLifecycle,
  registerQueueGauges,
  startWorkConsumerSpan,
  startWorkSpan,
} from '../../src/telemetry/index.js';
import { WorkItems } from '../../src/work/work-items.js';
import { createTestDatabase, type TestDatabase, testKind } from '../support/database.js';
import { installTestOtel, pointWith } from './support/otel.js';
import { runAttempt } from './support/run-attempt.js';
import type { Histogram, ReadableSpan } from './support/otel.js';

const otel = installTestOtel();
let db: TestDatabase;
let work: WorkItems;
const QUEUE = 'traced';

beforeAll(async () => {
  db = await createTestDatabase();
  work = new WorkItems({ pool: db.pool, tracing: createWorkTracing() });
  await work.createQueue(QUEUE);
});
afterAll(async () => db?.close());
beforeEach(() => otel.reset());

interface ChildSpan {
  name: string;
  kind: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  links: string[];
}

function runConsumerProcess(): Promise<{ spans: ChildSpan[]; stats: Record<string, number> }> {
  const script = fileURLToPath(new URL('./support/consume-one.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, ANIMUS_TELEMETRY_DB_URL: db.url, ANIMUS_TELEMETRY_QUEUE: QUEUE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`consumer process exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'));
    });
  });
}

describe(`work traces across processes (${testKind})`, () => {
  it('a submit here and its processing in another process form one trace', async () => {
    const request = trace.getTracer('test').startSpan('POST /work');
    const submitted = await context.with(trace.setSpan(context.active(), request), () =>
      work.submit({
        queue: QUEUE,
        workType: 'telemetry.echo',
        source: 'test',
        dedupKey: 'trace-1',
        params: { n: 1 },
      }),
    );
    request.end();
    expect(submitted.status).toBe('queued');
    if (submitted.status !== 'queued') return;

    const [producer, ...others] = otel.spansNamed(`send ${QUEUE}`);
    expect(others).toHaveLength(0);
    expect(producer?.kind).toBe(SpanKind.PRODUCER);
    expect(producer?.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(producer?.attributes).toEqual({
      'messaging.system': 'pgmq',
      'messaging.destination.name': QUEUE,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.message.id': String(submitted.msgId),
      'animus.work.type': 'telemetry.echo',
      'animus.work.id': submitted.id,
      'animus.work.dedup_key': 'trace-1',
    });
    // The work type is on the span; its lifecycle events carry only from- and to-state.
    expect(producer?.events.map((e) => e.attributes)).toEqual([
      { 'animus.work.state.from': 'none', 'animus.work.state.to': 'queued' },
    ]);
    // The context really is in the pgmq message headers.
    const { rows } = await db.pool.query<{ headers: Record<string, string> }>(
      `SELECT headers FROM pgmq.q_${QUEUE} WHERE msg_id = $1`,
      [String(submitted.msgId)],
    );
    expect(rows[0]?.headers.traceparent).toBe(
      `00-${producer?.spanContext().traceId}-${producer?.spanContext().spanId}-01`,
    );

    const { spans, stats } = await runConsumerProcess();
    expect(stats.completed).toBe(1);
    const consumer = spans.find((s) => s.name === `process ${QUEUE}`);
    expect(consumer).toBeDefined();
    expect(consumer?.kind).toBe('CONSUMER');
    expect(consumer?.traceId).toBe(request.spanContext().traceId);
    expect(consumer?.parentSpanId).toBe(producer?.spanContext().spanId);
    expect(consumer?.attributes).toMatchObject({
      'messaging.system': 'pgmq',
      'messaging.destination.name': QUEUE,
      'messaging.operation.type': 'process',
      'messaging.message.id': String(submitted.msgId),
      'animus.work.type': 'telemetry.echo',
      'animus.work.id': submitted.id,
      'animus.work.attempt': 1,
      'animus.work.outcome': 'completed',
    });
    expect(consumer?.events.map((e) => e.attributes)).toEqual([
      { 'animus.work.state.from': 'queued', 'animus.work.state.to': 'running' },
      { 'animus.work.state.from': 'running', 'animus.work.state.to': 'completed' },
    ]);
    expect((await work.get(submitted.id)).state).toBe('completed');
  });

  it('a merged submit is a PRODUCER span with the merge recorded, and transitions are counted', async () => {
    await work.submit({ queue: QUEUE, workType: 'telemetry.merge', source: 'test', dedupKey: 'same' });
    const merged = await work.submit({
      queue: QUEUE,
      workType: 'telemetry.merge',
      source: 'test',
      dedupKey: 'same',
    });
    expect(merged.status).toBe('merged');
    const spans = otel.spansNamed(`send ${QUEUE}`);
    expect(spans).toHaveLength(2);
    expect(spans[1]?.attributes['animus.work.merged_into']).toBe(
      merged.status === 'merged' ? merged.mergedInto : '',
    );
    expect(spans[1]?.attributes['messaging.message.id']).toBeUndefined();
    const transitions = await otel.collectMetric('animus.work.transitions');
    const base = { 'animus.work.type': 'telemetry.merge', 'animus.work.state.from': 'none' };
    expect(pointWith<number>(transitions, { ...base, 'animus.work.state.to': 'queued' })?.value).toBe(1);
    expect(pointWith<number>(transitions, { ...base, 'animus.work.state.to': 'merged' })?.value).toBe(1);

    // Claiming goes through the work module's transition hook: queued → running counted.
    const [claimed] = await work.read(QUEUE, { vt: 30, qty: 1 });
    expect(claimed?.workType).toBe('telemetry.merge');
    const after = await otel.collectMetric('animus.work.transitions');
    expect(
      pointWith<number>(after, {
        'animus.work.type': 'telemetry.merge',
        'animus.work.state.from': 'queued',
        'animus.work.state.to': 'running',
      })?.value,
    ).toBe(1);
    await work.complete(claimed!, null);
  });

  it('a batch counts every claim and completion, per work type, whatever their order', async () => {
    // The work module reports a batch's changes once per run of one work type.
    const queue = 'traced_batch';
    await work.createQueue(queue);
    const types = ['batch.a', 'batch.a', 'batch.b', 'batch.a', 'batch.b', 'batch.b', 'batch.b'];
    await work.submitBatch(types.map((workType) => ({ queue, workType, source: 'test' })));
    const claimed = await work.read(queue, { vt: 30, qty: 10 });
    expect(claimed.map((c) => c.workType).sort()).toEqual([...types].sort());
    await work.completeMany(claimed.map((item) => ({ item })));
    const transitions = await otel.collectMetric('animus.work.transitions');
    const count = (workType: string, from: string, to: string) =>
      pointWith<number>(transitions, {
        'animus.work.type': workType,
        'animus.work.state.from': from,
        'animus.work.state.to': to,
      })?.value;
    for (const [type, n] of [
      ['batch.a', 3],
      ['batch.b', 4],
    ] as const) {
      expect([count(type, 'none', 'queued'), count(type, 'queued', 'running')]).toEqual([n, n]);
      expect(count(type, 'running', 'completed')).toBe(n);
    }
  });
});

describe('work spans in one process', () => {
  it('link-only mode starts a new trace linked to the submit', () => {
    const producer = startWorkSpan({ queue: 'q', workType: 't' });
    producer.end();
    const consumer = startWorkConsumerSpan({
      queue: 'q',
      workType: 't',
      workId: 'w1',
      attempt: 2,
      headers: producer.headers,
      linkOnly: true,
    });
    consumer.end('completed');
    const [span] = otel.spansNamed('process q');
    expect(span?.spanContext().traceId).not.toBe(producer.span.spanContext().traceId);
    expect(span?.links.map((l) => l.context.spanId)).toEqual([producer.span.spanContext().spanId]);
    expect(span?.attributes['animus.work.attempt']).toBe(2);
  });

  it('garbage headers give a span under the active context, never an error', () => {
    for (const headers of [null, 'x', [1], { traceparent: 'not-a-traceparent' }, { traceparent: 7 }]) {
      const consumer = startWorkConsumerSpan({ queue: 'g', workType: 't', workId: 'w', attempt: 1, headers });
      consumer.end('completed');
    }
    const spans = otel.spansNamed('process g');
    expect(spans).toHaveLength(5);
    for (const s of spans) expect(s.parentSpanContext).toBeUndefined();
  });

  it('the attempt hook marks a failing attempt: retry while attempts remain, then dead', async () => {
    const producer = startWorkSpan({ queue: 'h', workType: 'flaky' });
    producer.end();
    const item = { id: 'w9', queue: 'h', workType: 'flaky', msgId: 5n, headers: producer.headers };
    await expect(
      runAttempt({ ...item, attempts: 1, maxAttempts: 2 }, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(
      runAttempt({ ...item, attempts: 2, maxAttempts: 2 }, async () => {
        throw new Error('boom again');
      }),
    ).rejects.toThrow('boom again');
    const [first, second] = otel.spansNamed('process h');
    expect(first?.status.code).toBe(SpanStatusCode.ERROR);
    expect(first?.attributes).toMatchObject({
      'animus.work.outcome': 'retry',
      'error.type': '_OTHER',
    });
    const lastTransition = (events: ReadableSpan['events'] | undefined) =>
      events?.filter((e) => e.name === 'animus.work.transition').at(-1)?.attributes?.['animus.work.state.to'];
    expect(first?.events.some((e) => e.name === 'exception')).toBe(true);
    expect(lastTransition(first?.events)).toBe('queued');
    expect(second?.attributes['animus.work.outcome']).toBe('dead');
    expect(lastTransition(second?.events)).toBe('dead');
    const duration = await otel.collectMetric('animus.work.duration');
    expect(duration?.descriptor.unit).toBe('s');
    expect(
      pointWith<Histogram>(duration, { 'animus.work.type': 'flaky', 'animus.work.outcome': 'retry' })?.value
        .count,
    ).toBe(1);
    expect(
      pointWith<Histogram>(duration, { 'animus.work.type': 'flaky', 'animus.work.outcome': 'dead' })?.value
        .count,
    ).toBe(1);
  });

  it("headers carry the context with a no-op global propagator, and an application's baggage with its own", () => {
    const producer = startWorkSpan({ queue: 'p', workType: 't' });
    producer.end();
    const { traceId, spanId } = producer.span.spanContext();
    try {
      // No SDK propagator registered: animus's own W3C pass writes and reads the pair.
      propagation.disable();
      const bare = injectTraceHeaders(producer.context);
      expect(bare).toEqual({ traceparent: `00-${traceId}-${spanId}-01` });
      expect(trace.getSpanContext(extractTraceContext(bare))).toMatchObject({ traceId, spanId });

      // The SDK's usual propagator: trace context and baggage; the pair is written once.
      propagation.setGlobalPropagator(
        new CompositePropagator({
          propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
        }),
      );
      const ctx = propagation.setBaggage(
        producer.context,
        propagation.createBaggage({ tenant: { value: 'acme' } }),
      );
      const headers = injectTraceHeaders(ctx);
      expect(headers).toEqual({ traceparent: `00-${traceId}-${spanId}-01`, baggage: 'tenant=acme' });
      const extracted = extractTraceContext(JSON.parse(JSON.stringify(headers)) as unknown);
      expect(trace.getSpanContext(extracted)).toMatchObject({ traceId, spanId, isRemote: true });
      expect(propagation.getBaggage(extracted)?.getEntry('tenant')?.value).toBe('acme');
    } finally {
      propagation.disable();
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });

  it('transitions are a monotonic sum per from, to and work type; events carry the same attributes', async () => {
    const span = trace.getTracer('test').startSpan('lifecycle');
    recordWorkLifecycle(span, 'queued', 'running', 'count.me');
    recordWorkLifecycle(span, 'queued', 'running', 'count.me');
    recordWorkLifecycle(undefined, 'running', 'dead', 'count.me');
    span.end();
    const transitions = await otel.collectMetric('animus.work.transitions');
    expect(transitions?.dataPointType).toBe(DataPointType.SUM);
    expect(transitions?.descriptor.unit).toBe('{transition}');
    expect((transitions as { isMonotonic?: boolean } | undefined)?.isMonotonic).toBe(true);
    const of = (from: string, to: string) =>
      pointWith<number>(transitions, {
        'animus.work.type': 'count.me',
        'animus.work.state.from': from,
        'animus.work.state.to': to,
      })?.value;
    expect(of('queued', 'running')).toBe(2);
    expect(of('running', 'dead')).toBe(1);
    expect(of('running', 'completed')).toBeUndefined();
    const [ended] = otel.spansNamed('lifecycle');
    expect(ended?.events.map((e) => e.attributes)).toEqual([
      {
        'animus.work.state.from': 'queued',
        'animus.work.state.to': 'running',
        'animus.work.type': 'count.me',
      },
      {
        'animus.work.state.from': 'queued',
        'animus.work.state.to': 'running',
        'animus.work.type': 'count.me',
      },
    ]);
    // A later change is added to what was reported before (cumulative).
    recordWorkLifecycle(undefined, 'queued', 'running', 'count.me');
    const again = await otel.collectMetric('animus.work.transitions');
    expect(
      pointWith<number>(again, {
        'animus.work.type': 'count.me',
        'animus.work.state.from': 'queued',
        'animus.work.state.to': 'running',
      })?.value,
    ).toBe(3);
  });

  it('queue gauges report length and oldest age from pgmq.metrics_all()', async () => {
    await db.pool.query(`SELECT pgmq.purge_queue('${QUEUE}')`);
    await work.submit({ queue: QUEUE, workType: 'telemetry.gauge', source: 'test', params: {} });
    const unregister = registerQueueGauges(async () => {
      const { rows } = await db.pool.query<{
        queue_name: string;
        queue_length: string;
        oldest_msg_age_sec: number | null;
      }>('SELECT queue_name, queue_length, oldest_msg_age_sec FROM pgmq.metrics_all()');
      return rows.map((r) => ({
        queue: r.queue_name,
        length: Number(r.queue_length),
        oldestAgeSeconds: r.oldest_msg_age_sec,
      }));
    });
    const length = await otel.collectMetric('animus.queue.length');
    expect(pointWith<number>(length, { 'messaging.destination.name': QUEUE })?.value).toBe(1);
    const age = await otel.collectMetric('animus.queue.oldest_message.age');
    expect(pointWith<number>(age, { 'messaging.destination.name': QUEUE })?.value).toBeGreaterThanOrEqual(0);
    unregister();
    const failing = registerQueueGauges(async () => {
      throw new Error('database down');
    });
    await expect(otel.collectMetric('animus.queue.length')).resolves.toBeDefined();
    failing();
  });
});
