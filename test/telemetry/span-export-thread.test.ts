// The worker-thread span exporter against a real OTLP/HTTP receiver on 127.0.0.1: the bytes it
// sends are the bytes the main-thread OTLP exporter sends for the same spans (links, trace
// state, events, error status included), forceFlush returns only once the spans have arrived,
// initTelemetry uses it by default, and a thread that cannot start fails exports without
// throwing.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getPriority } from 'node:os';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode, TraceState } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { configFromEnv, resolveConfig } from '../../src/config/index.js';
import { initTelemetry, startWorkConsumerSpan, startWorkSpan } from '../../src/telemetry/index.js';
import { DirectSpanEncoder } from '../../src/telemetry/direct-span-encoder.js';
import { ThreadedSpanExporter } from '../../src/telemetry/span-export-thread.js';
import { resetOtelApi, useOtlpReceiver } from '../support/otlp-receiver.js';

const otlp = useOtlpReceiver();

const PROTO_MODULE = createRequire(import.meta.url).resolve('@opentelemetry/exporter-trace-otlp-proto');

/** Finished spans of every shape the serializers handle, from a private provider. */
function sampleSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'thread-test', 'service.version': '1.2.3' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('animus-test', '0.0.1');
  const remote = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
    isRemote: true,
    traceState: new TraceState('vendor=abc,other=1'),
  };
  const parent = trace.setSpanContext(context.active(), remote);
  const a = tracer.startSpan(
    'process work',
    { kind: SpanKind.CONSUMER, attributes: { 'animus.work.attempt': 2, list: ['x', 'y'], ok: true } },
    parent,
  );
  a.addEvent('animus.work.transition', {
    'animus.work.state.from': 'queued',
    'animus.work.state.to': 'running',
  });
  a.recordException(new Error('boom'));
  a.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  a.end();
  const b = tracer.startSpan('linked', {
    kind: SpanKind.INTERNAL,
    links: [{ context: remote, attributes: { why: 'batch' } }],
  });
  b.end();
  const c = tracer.startSpan('root', { attributes: { n: 1.5 } });
  c.end();
  return memory.getFinishedSpans();
}

/** The nice value of each of this process's threads, by thread id (Linux's /proc). */
function threadNices(): Map<string, number> {
  const nices = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // After the command's closing parenthesis: state, ppid, …; the nice value is the 17th.
      nices.set(tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return nices;
}

/** Nice values of the threads started while `run` ran (an export thread's among them). */
async function nicesOfNewThreads(run: () => Promise<void>): Promise<number[]> {
  const before = threadNices();
  await run();
  return [...threadNices()].filter(([tid]) => !before.has(tid)).map(([, nice]) => nice);
}

function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

describe('ThreadedSpanExporter', () => {
  it('sends the same OTLP/protobuf bytes as the main-thread exporter', async () => {
    const spans = sampleSpans();
    expect(spans).toHaveLength(3);
    const url = `${otlp.endpoint}/direct/v1/traces`;
    const direct = new OTLPTraceExporter({ url });
    expect((await exportWith(direct, spans)).code).toBe(ExportResultCode.SUCCESS);
    await direct.shutdown();

    const threadUrl = `${otlp.endpoint}/thread/v1/traces`;
    const threaded = new ThreadedSpanExporter({
      exporterModule: PROTO_MODULE,
      exporterConfig: { url: threadUrl },
    });
    expect((await exportWith(threaded, spans)).code).toBe(ExportResultCode.SUCCESS);
    await threaded.forceFlush();
    await threaded.shutdown();

    const directBody = otlp.received.find((r) => r.path === '/direct/v1/traces')?.raw;
    const threadBody = otlp.received.find((r) => r.path === '/thread/v1/traces')?.raw;
    expect(directBody?.length).toBeGreaterThan(0);
    expect(threadBody?.equals(directBody!)).toBe(true);
  });

  it('hands the buffers of sent encoded requests back, and the next requests reuse them intact', async () => {
    const path = '/recycle/v1/traces';
    const threaded = new ThreadedSpanExporter({
      exporterModule: PROTO_MODULE,
      exporterConfig: { url: `${otlp.endpoint}${path}` },
    });
    const encoder = new DirectSpanEncoder();
    const back: ArrayBuffer[] = [];
    const sizes: number[] = [];
    threaded.recycleBuffers((buffer) => {
      back.push(buffer);
      sizes.push(buffer.byteLength);
      encoder.recycle(buffer);
    });
    // Requests of 19 kB, 320 B, 192 kB and 640 B around entries of different bytes.
    const entries = [300 * 64, 320, 3000 * 64, 640].map((size, k) => Buffer.alloc(size, k + 1));
    const expected = entries.map((e) => Buffer.from(new DirectSpanEncoder().wrap({}, { name: 's' }, e)));
    const used: ArrayBuffer[] = [];
    for (const [k, e] of entries.entries()) {
      const request = encoder.wrap({}, { name: 's' }, e);
      expect(Buffer.from(request).equals(expected[k]!)).toBe(true);
      used.push(request.buffer);
      await new Promise<void>((resolve, reject) =>
        threaded.sendEncoded(request, 1, (error) => (error ? reject(error) : resolve())),
      );
      await threaded.forceFlush();
      expect(back).toHaveLength(k + 1);
    }
    await threaded.shutdown();
    // What arrived is what was encoded, though the buffers were written again in between.
    const bodies = otlp.received.filter((r) => r.path === path).map((r) => r.raw);
    expect(bodies).toHaveLength(4);
    bodies.forEach((body, k) => expect(body.equals(expected[k]!)).toBe(true));
    // The second request went into the first one's buffer (and was sent from it: transferred
    // again), the fourth into the second's; the third needed a larger one.
    expect(used[1]).toBe(back[0]);
    expect(used[3]).toBe(back[1]);
    expect(back[0]!.byteLength).toBe(0);
    expect(sizes).toEqual([64 * 1024, 64 * 1024, 192 * 1024, 64 * 1024]);
  });

  it('forceFlush returns only after the spans have arrived', async () => {
    const path = '/flush/v1/traces';
    const threaded = new ThreadedSpanExporter({
      exporterModule: PROTO_MODULE,
      exporterConfig: { url: `${otlp.endpoint}${path}` },
    });
    const spans = sampleSpans();
    for (let i = 0; i < 5; i++)
      expect((await exportWith(threaded, spans)).code).toBe(ExportResultCode.SUCCESS);
    await threaded.forceFlush();
    expect(otlp.received.filter((r) => r.path === path)).toHaveLength(5);
    await threaded.shutdown();
    // After shutdown exports fail instead of throwing.
    expect((await exportWith(threaded, spans)).code).toBe(ExportResultCode.FAILED);
  });

  it.runIf(process.platform === 'linux')(
    "runs at the nice value it is given, and at the process's own without one (Linux)",
    async () => {
      const own = getPriority(0);
      expect(own).toBeLessThan(13);
      const started = async (nice?: number) => {
        let threaded: ThreadedSpanExporter | undefined;
        const nices = await nicesOfNewThreads(async () => {
          threaded = new ThreadedSpanExporter({
            exporterModule: PROTO_MODULE,
            exporterConfig: { url: `${otlp.endpoint}/nice/v1/traces` },
            ...(nice === undefined ? {} : { nice }),
          });
          // Its first export has run on the thread: the thread is up and has set its priority.
          expect((await exportWith(threaded, sampleSpans())).code).toBe(ExportResultCode.SUCCESS);
          await threaded.forceFlush();
        });
        await threaded!.shutdown();
        return nices;
      };
      const lowered = await started(13);
      expect(lowered).toContain(13);
      // Only the export thread: the process and its other threads keep their priority.
      expect(getPriority(0)).toBe(own);
      expect([...threadNices().values()].filter((n) => n === 13)).toHaveLength(0);
      const plain = await started();
      expect(plain.length).toBeGreaterThan(0);
      expect(plain.every((n) => n === own)).toBe(true);
      const zero = await started(0);
      expect(zero.every((n) => n === own)).toBe(true);
    },
  );

  it('a thread that cannot load its exporter fails exports and flushes without throwing', async () => {
    const broken = new ThreadedSpanExporter({
      exporterModule: '/nonexistent/otlp-exporter.js',
      exporterConfig: { url: `${otlp.endpoint}/broken/v1/traces` },
    });
    const result = await exportWith(broken, sampleSpans());
    expect(result.code).toBe(ExportResultCode.FAILED);
    await expect(broken.forceFlush()).resolves.toBeUndefined();
    await expect(broken.shutdown()).resolves.toBeUndefined();
    expect(otlp.received.some((r) => r.path === '/broken/v1/traces')).toBe(false);
  });
});

describe('initTelemetry with the export thread (default)', () => {
  it('keeps spans on the main thread when ANIMUS_OTEL_EXPORT_THREAD=false, and still delivers them', async () => {
    const config = configFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: `${otlp.endpoint}/main`,
      ANIMUS_OTEL_EXPORT_THREAD: 'false',
    });
    const handle = await initTelemetry(config, { env: {}, metricExportIntervalMs: 60_000 });
    try {
      expect(handle.spanExportThread).toBe(false);
      const producer = startWorkSpan({ queue: 'work', workType: 'main.check' });
      producer.end();
      await handle.forceFlush();
      const bodies = otlp.received.filter((r) => r.path === '/main/v1/traces');
      expect(Buffer.concat(bodies.map((r) => r.raw)).toString('latin1')).toContain('main.check');
    } finally {
      await handle.shutdown();
    }
  });

  it('handle.forceFlush() delivers work spans to the receiver without a shutdown', async () => {
    resetOtelApi();
    const config = resolveConfig({ telemetry: { otlpEndpoint: `${otlp.endpoint}/init` } });
    let handle: Awaited<ReturnType<typeof initTelemetry>> | undefined;
    const nices = await nicesOfNewThreads(async () => {
      handle = await initTelemetry(config, { env: {}, metricExportIntervalMs: 60_000 });
      await handle.forceFlush();
    });
    // The export thread runs at the default nice value, 10 (Linux).
    if (process.platform === 'linux') expect(nices).toContain(config.telemetry.exportThreadNice);
    expect(config.telemetry.exportThreadNice).toBe(10);
    if (handle === undefined) throw new Error('initTelemetry did not return');
    try {
      expect(handle.spanExportThread).toBe(true);
      const before = otlp.received.filter((r) => r.path === '/init/v1/traces').length;
      const producer = startWorkSpan({ queue: 'work', workType: 'thread.check' });
      producer.transition(undefined, 'queued');
      producer.end();
      const attempt = startWorkConsumerSpan({
        queue: 'work',
        workType: 'thread.check',
        workId: 'w-1',
        attempt: 1,
        headers: producer.headers,
      });
      attempt.end('completed');
      await handle.forceFlush();
      const bodies = otlp.received.filter((r) => r.path === '/init/v1/traces').slice(before);
      const all = Buffer.concat(bodies.map((r) => r.raw)).toString('latin1');
      expect(all).toContain('send work');
      expect(all).toContain('process work');
      expect(all).toContain('thread.check');
      // The producer's span id appears twice: as its own id and as the attempt's parent.
      const producerId = Buffer.from(producer.span.spanContext().spanId, 'hex').toString('latin1');
      expect(all.split(producerId)).toHaveLength(3);
    } finally {
      await handle.shutdown();
    }
  });
});
