// The queue of direct work spans (direct-span-queue.ts), encoded when their batch leaves: the
// requests it sends are the bytes the SDK's protobuf serializer writes for the same spans, and
// it batches as the SDK's BatchSpanProcessor does (full batches at once — here at the next turn
// of the event loop —, the rest after the delay, one export at a time, unsampled spans left out,
// spans past the queue size dropped, flush and shutdown sending everything).
import { ROOT_CONTEXT, SpanKind, TraceFlags } from '@opentelemetry/api';
import type { SpanContext } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { DirectSpanEncoder } from '../../src/telemetry/direct-span-encoder.js';
import { DirectSpanQueue } from '../../src/telemetry/direct-span-queue.js';
import type { DirectSpanQueueOptions } from '../../src/telemetry/direct-span-queue.js';
import { frozenAttributes, startDirectSpan } from '../../src/telemetry/direct-spans.js';
import type { DirectSpan, DirectSpanSink } from '../../src/telemetry/direct-spans.js';

const BASE = frozenAttributes({ 'messaging.system': 'pgmq', 'messaging.destination.name': 'q' });

interface Sent {
  bytes: Uint8Array;
  count: number;
  done: (error?: Error) => void;
}

/**
 * A queue over a recording `send` (answered at once unless `hold`), and a way to end direct
 * spans into it; `ended` keeps every span handed to the queue, in order.
 */
function setup(options: Partial<DirectSpanQueueOptions> & { hold?: boolean } = {}) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'queue-test' }),
  });
  const probe = provider.getTracer('animus', '1.2.3').startSpan('probe') as unknown as ReadableSpan;
  const sent: Sent[] = [];
  const queue = new DirectSpanQueue(
    new DirectSpanEncoder(),
    (bytes, count, done) => {
      sent.push({ bytes, count, done });
      if (options.hold !== true) done();
    },
    {
      maxQueueSize: options.maxQueueSize ?? 2048,
      maxExportBatchSize: options.maxExportBatchSize ?? 512,
      ...(options.maxExportBytes === undefined ? {} : { maxExportBytes: options.maxExportBytes }),
      scheduledDelayMillis: options.scheduledDelayMillis ?? 60_000,
      exportTimeoutMillis: options.exportTimeoutMillis ?? 30_000,
    },
  );
  const ended: DirectSpan[] = [];
  const ids = new RandomIdGenerator();
  const sink: DirectSpanSink = {
    provider,
    resource: probe.resource,
    scope: probe.instrumentationScope,
    w3cPropagation: true,
    processors: [
      {
        onStart() {},
        onEnd(span: never) {
          ended.push(span as DirectSpan);
          queue.add(span as DirectSpan);
        },
      },
    ],
    newTraceId: () => ids.generateTraceId(),
    newSpanId: () => ids.generateSpanId(),
    suppressed: isTracingSuppressed,
  };
  const end = (n: number, parent?: SpanContext): void => {
    for (let i = 0; i < n; i++) {
      const span = startDirectSpan(
        sink,
        'process q',
        SpanKind.CONSUMER,
        ROOT_CONTEXT,
        parent,
        BASE.attributes,
        BASE.count,
        {
          'animus.work.id': `w-${String(ended.length)}`,
        },
      );
      span.addEvent('animus.work.transition', { 'animus.work.state.to': 'running' });
      span.end();
    }
  };
  return { queue, sent, ended, end };
}

/** The next turn of the event loop, when spans ended before it have been encoded. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** What the SDK's serializer writes for these spans. */
const sdkBytes = (spans: DirectSpan[]): Buffer =>
  Buffer.from(ProtobufTraceSerializer.serializeRequest(spans as unknown as ReadableSpan[])!);

describe('DirectSpanQueue', () => {
  it('sends a full batch at the next turn, as the bytes the SDK serializer writes for those spans', async () => {
    const { queue, sent, ended, end } = setup({ maxExportBatchSize: 100 });
    end(99);
    await turn();
    expect(sent).toHaveLength(0); // not full: waits for the delay
    end(1);
    expect(sent).toHaveLength(0); // ended in this turn: encoded once the work path yields
    expect(queue.size).toBe(100);
    await turn();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.count).toBe(100);
    expect(Buffer.from(sent[0]!.bytes).equals(sdkBytes(ended))).toBe(true);
  });

  it('sends a batch that is not full after the schedule delay', async () => {
    const { sent, ended, end } = setup({ scheduledDelayMillis: 30 });
    end(7);
    expect(sent).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sent.map((s) => s.count)).toEqual([7]);
    expect(Buffer.from(sent[0]!.bytes).equals(sdkBytes(ended))).toBe(true);
  });

  it('exports one batch at a time; the next full batch leaves when the first is done', async () => {
    const { sent, ended, end } = setup({ maxExportBatchSize: 10, hold: true });
    end(25);
    await turn();
    expect(sent.map((s) => s.count)).toEqual([10]);
    sent[0]!.done();
    await turn();
    expect(sent.map((s) => s.count)).toEqual([10, 10]);
    // Each request holds its own spans, in order.
    expect(Buffer.from(sent[1]!.bytes).equals(sdkBytes(ended.slice(10, 20)))).toBe(true);
  });

  it('leaves unsampled spans out', () => {
    const { queue, sent, end } = setup();
    end(3, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.NONE,
    });
    end(2);
    expect(queue.size).toBe(2);
    expect(sent).toHaveLength(0);
  });

  it('drops spans past the queue size while an export is pending, and takes them again after', async () => {
    const { queue, sent, end } = setup({ maxQueueSize: 20, maxExportBatchSize: 10, hold: true });
    end(10);
    await turn(); // a full batch goes out and stays pending
    end(30); // 20 wait; 10 are dropped
    expect(sent.map((s) => s.count)).toEqual([10]);
    expect(queue.size).toBe(20);
    sent[0]!.done();
    await turn();
    expect(sent.map((s) => s.count)).toEqual([10, 10]);
    expect(queue.size).toBe(10);
    end(1);
    expect(queue.size).toBe(11);
  });

  it('forceFlush sends everything in batches of the batch size, spans in order', async () => {
    const { queue, sent, ended, end } = setup({ maxExportBatchSize: 300 });
    // Ended while the first full batch is "sending" (answered at once here): 1000 wait at most.
    end(1000);
    const before = sent.length;
    await queue.forceFlush();
    expect(queue.size).toBe(0);
    expect(sent.reduce((n, s) => n + s.count, 0)).toBe(1000);
    expect(sent.slice(before).every((s) => s.count <= 300)).toBe(true);
    let at = 0;
    for (const s of sent) {
      expect(Buffer.from(s.bytes).equals(sdkBytes(ended.slice(at, at + s.count)))).toBe(true);
      at += s.count;
    }
  });

  it('moves waiting spans to the front of its buffer when it fills, and sends them intact and in order', async () => {
    const { queue, sent, ended, end } = setup({ maxExportBatchSize: 100, maxQueueSize: 4096, hold: true });
    end(250);
    await turn(); // 250 encoded, the first 100 sent (pending): 150 wait behind them in the buffer
    expect(sent.map((s) => s.count)).toEqual([100]);
    end(600); // encoded on the flush: past the buffer's 64 kB, the waiting ones move to the front
    const flushed = queue.forceFlush();
    for (let i = 0; i < sent.length; i++) sent[i]!.done();
    await flushed;
    expect(sent.reduce((n, s) => n + s.count, 0)).toBe(850);
    let at = 0;
    for (const s of sent) {
      expect(Buffer.from(s.bytes).equals(sdkBytes(ended.slice(at, at + s.count)))).toBe(true);
      at += s.count;
    }
  });

  it('holds a batch under maxExportBytes; the rest of a full batch leaves right after, not after the delay', async () => {
    // One span's entry, measured on a queue without the limit.
    const probe = setup({ maxExportBatchSize: 1 });
    probe.end(1);
    await probe.queue.forceFlush();
    const oneRequest = probe.sent[0]!.bytes.length;
    const limit = 10 * oneRequest; // about 10 spans' entries (a request's frame is a few bytes more)
    const { sent, ended, end } = setup({ maxExportBatchSize: 100, maxExportBytes: limit, hold: true });
    end(100);
    await turn();
    expect(sent).toHaveLength(1);
    const first = sent[0]!.count;
    expect(first).toBeGreaterThan(1);
    expect(first).toBeLessThan(100);
    // Each answer lets the next part go (the schedule delay is a minute: nothing else sends).
    for (let i = 0; i < sent.length; i++) {
      sent[i]!.done();
      await turn();
      await turn();
    }
    expect(sent.reduce((n, s) => n + s.count, 0)).toBe(100);
    let at = 0;
    for (const s of sent) {
      expect(s.count).toBeLessThanOrEqual(first);
      // Entries alone stay under the limit; each request is the SDK's bytes for its spans.
      expect(s.bytes.length).toBeLessThanOrEqual(limit + oneRequest);
      expect(Buffer.from(s.bytes).equals(sdkBytes(ended.slice(at, at + s.count)))).toBe(true);
      at += s.count;
    }
  });

  it('sends a span larger than maxExportBytes alone, and forceFlush sends everything under the limit', async () => {
    const { queue, sent, ended, end } = setup({ maxExportBatchSize: 100, maxExportBytes: 1 });
    end(5);
    await queue.forceFlush();
    expect(sent.map((s) => s.count)).toEqual([1, 1, 1, 1, 1]);
    sent.forEach((s, i) => expect(Buffer.from(s.bytes).equals(sdkBytes(ended.slice(i, i + 1)))).toBe(true));
  });

  it('a failed send rejects nothing into the caller; shutdown sends what waits and takes no more', async () => {
    const q = setup({ maxExportBatchSize: 5, hold: true });
    q.end(5);
    await turn();
    q.sent[0]!.done(new Error('receiver down'));
    await turn();
    q.end(3);
    const closing = q.queue.shutdown();
    expect(q.sent.map((s) => s.count)).toEqual([5, 3]);
    q.sent[1]!.done();
    await closing;
    q.end(4);
    expect(q.queue.size).toBe(0);
    expect(q.sent).toHaveLength(2);
  });
});
