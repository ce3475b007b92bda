// initTelemetry against a real OTLP/HTTP receiver on 127.0.0.1: after shutdown() flushes,
// the receiver holds the spans, metrics and logs animus produced, with the animus resource
// (service.name, version, instance id); the Prometheus text carries the same metrics. Also the
// switches that leave the SDK unstarted.
import { context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import {
  ANIMUS_VERSION,
  createLogger,
  initTelemetry,
  startChatSpan,
  startWorkConsumerSpan,
  startWorkSpan,
} from '../../src/telemetry/index.js';
import { otlpProtocol } from '../../src/telemetry/setup.js';
import {
  protobufSpans,
  type ReceivedExport,
  resetOtelApi,
  useOtlpReceiver,
} from '../support/otlp-receiver.js';

const otlp = useOtlpReceiver();

type AnyValue = { stringValue?: string; intValue?: string | number };
type KeyValue = { key: string; value: AnyValue };

function resourceAttrs(entry: Record<string, unknown>): Record<string, string | number | undefined> {
  const attrs = ((entry.resource as { attributes?: KeyValue[] } | undefined)?.attributes ?? []) as KeyValue[];
  return Object.fromEntries(attrs.map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));
}

describe('initTelemetry', () => {
  it('starts nothing when no endpoint is set or the switches say none', async () => {
    const config = resolveConfig({ telemetry: { otlpEndpoint: 'http://127.0.0.1:9' } });
    for (const env of [
      { OTEL_SDK_DISABLED: 'true' },
      { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' },
    ]) {
      const handle = await initTelemetry(config, { env });
      expect(handle.exporting).toEqual({ traces: false, metrics: false, logs: false });
      expect(handle.metricsText).toBeUndefined();
      await handle.shutdown();
    }
    const none = await initTelemetry(resolveConfig({}), { env: {} });
    expect(none.exporting).toEqual({ traces: false, metrics: false, logs: false });
    await none.shutdown();
  });

  it('exports spans, metrics and logs over OTLP/HTTP JSON (per-signal URL honoured) and serves Prometheus text', async () => {
    const config = resolveConfig({ telemetry: { otlpEndpoint: otlp.endpoint, serviceName: 'animus' } });
    const handle = await initTelemetry(config, {
      // A per-signal endpoint is a full URL and wins over the base endpoint.
      env: {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.endpoint}/custom/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      },
      prometheus: true,
      instanceId: 'test-instance-1',
      metricExportIntervalMs: 60_000,
    });
    expect(handle.exporting).toEqual({ traces: true, metrics: true, logs: true });

    const chat = startChatSpan({
      provider: 'openai',
      model: 'otlp-model',
      serverAddress: '127.0.0.1',
      serverPort: 1,
    });
    createLogger({ name: 'animus.otlp-test', stream: { write: () => true } }).info('inside chat', {
      step: 1,
      apiKey: 'sk-must-not-leak',
    });
    let traceId = '';
    context.with(chat.context, () => {
      traceId = trace.getSpanContext(context.active())?.traceId ?? '';
      createLogger({ name: 'animus.otlp-test', stream: { write: () => true } }).warn('in span');
    });
    chat.end({ responseModel: 'otlp-model-1', usage: { inputTokens: 5, outputTokens: 2 } });

    const prom = await handle.metricsText?.();
    expect(prom).toContain('gen_ai_client_token_usage');
    expect(prom).toContain('gen_ai_client_operation_duration');

    await handle.shutdown();

    const byPath = (p: string): ReceivedExport[] => otlp.received.filter((r) => r.path === p);
    expect(byPath('/v1/traces')).toHaveLength(0);
    const traces = byPath('/custom/traces');
    const metrics = byPath('/v1/metrics');
    const logs = byPath('/v1/logs');
    expect(traces.length).toBeGreaterThan(0);
    expect(metrics.length).toBeGreaterThan(0);
    expect(logs.length).toBeGreaterThan(0);
    expect(traces[0]?.contentType).toBe('application/json');

    const resourceSpans = traces.flatMap((t) => t.body.resourceSpans as Array<Record<string, unknown>>);
    expect(resourceAttrs(resourceSpans[0]!)).toMatchObject({
      'service.name': 'animus',
      'service.version': ANIMUS_VERSION,
      'service.instance.id': 'test-instance-1',
      'process.pid': process.pid,
    });
    expect(resourceAttrs(resourceSpans[0]!)['process.command_args']).toBeUndefined();
    const spans = resourceSpans.flatMap((r) =>
      (
        r.scopeSpans as Array<{
          scope: { name: string };
          spans: Array<{ name: string; traceId: string; kind: number }>;
        }>
      ).flatMap((s) => s.spans.map((span) => ({ ...span, scope: s.scope.name }))),
    );
    const exported = spans.find((s) => s.name === 'chat otlp-model');
    expect(exported).toMatchObject({ scope: 'animus', traceId, kind: 3 });

    const metricNames = metrics.flatMap((m) =>
      (
        m.body.resourceMetrics as Array<{ scopeMetrics: Array<{ metrics: Array<{ name: string }> }> }>
      ).flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((x) => x.name))),
    );
    expect(metricNames).toEqual(
      expect.arrayContaining(['gen_ai.client.token.usage', 'gen_ai.client.operation.duration']),
    );

    const records = logs.flatMap((l) =>
      (
        l.body.resourceLogs as Array<{
          scopeLogs: Array<{
            logRecords: Array<{ body: AnyValue; traceId?: string; severityText?: string }>;
          }>;
        }>
      ).flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)),
    );
    const inSpan = records.find((r) => r.body.stringValue === 'in span');
    expect(inSpan?.traceId).toBe(traceId);
    expect(inSpan?.severityText).toBe('WARN');
    expect(records.some((r) => r.body.stringValue === 'inside chat')).toBe(true);
    expect(JSON.stringify(logs.map((l) => l.body))).not.toContain('sk-must-not-leak');
  });
  it('picks the encoding from OTEL_EXPORTER_OTLP_PROTOCOL, per signal first, protobuf by default', () => {
    expect(otlpProtocol('traces', {})).toBe('http/protobuf');
    expect(otlpProtocol('traces', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBe('http/json');
    expect(
      otlpProtocol('metrics', {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
      }),
    ).toBe('http/protobuf');
    expect(otlpProtocol('logs', { OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: ' HTTP/JSON ' })).toBe('http/json');
    // gRPC is not offered: like the SDK, anything else is sent as http/protobuf.
    expect(otlpProtocol('traces', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toBe('http/protobuf');
  });

  it('exports over OTLP/HTTP protobuf by default: a work trace arrives whole', async () => {
    resetOtelApi();
    const from = otlp.received.length;
    const config = resolveConfig({ telemetry: { otlpEndpoint: otlp.endpoint, serviceName: 'animus' } });
    const handle = await initTelemetry(config, {
      env: { OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json' },
      instanceId: 'test-instance-2',
      metricExportIntervalMs: 60_000,
    });
    const producer = startWorkSpan({ queue: 'proto_q', workType: 'proto.type' });
    producer.transition(undefined, 'queued');
    producer.end();
    const consumer = startWorkConsumerSpan({
      queue: 'proto_q',
      workType: 'proto.type',
      workId: 'w-proto',
      attempt: 1,
      headers: JSON.parse(JSON.stringify(producer.headers)) as unknown,
    });
    consumer.transition('queued', 'running');
    consumer.end('completed');
    createLogger({ name: 'animus.otlp-test', stream: { write: () => true } }).info('proto log line');
    await handle.shutdown();

    const mine = otlp.received.slice(from);
    const traceExports = mine.filter((r) => r.path === '/v1/traces');
    const metricExports = mine.filter((r) => r.path === '/v1/metrics');
    const logExports = mine.filter((r) => r.path === '/v1/logs');
    expect(traceExports.length).toBeGreaterThan(0);
    expect(metricExports.length).toBeGreaterThan(0);
    expect(logExports.length).toBeGreaterThan(0);
    for (const r of [...traceExports, ...metricExports]) expect(r.contentType).toBe('application/x-protobuf');
    for (const r of logExports) expect(r.contentType).toBe('application/json');

    const spans = traceExports.flatMap((t) => protobufSpans(t.raw));
    const send = spans.find((x) => x.name === 'send proto_q');
    const processed = spans.find((x) => x.name === 'process proto_q');
    expect(send?.spanId).toBe(producer.span.spanContext().spanId);
    expect(processed?.parentSpanId).toBe(send?.spanId);
    expect(Buffer.concat(metricExports.map((m) => m.raw)).includes('animus.work.transitions')).toBe(true);
    expect(JSON.stringify(logExports.map((l) => l.body))).toContain('proto log line');
  });
  /**
   * PRODUCER spans of one synchronous burst, as the receiver got them after `finish`, and how
   * many each trace request carried (largest first); `batchSize` sets
   * OTEL_BSP_MAX_EXPORT_BATCH_SIZE meanwhile.
   */
  async function burst(
    queue: string,
    count: number,
    options: { directRecording?: boolean; finish: 'shutdown' | 'forceFlush'; batchSize?: number },
  ): Promise<{ spans: number; perRequest: number[] }> {
    resetOtelApi();
    const from = otlp.received.length;
    const config = resolveConfig({ telemetry: { otlpEndpoint: otlp.endpoint, serviceName: 'animus' } });
    const saved = process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE;
    if (options.batchSize !== undefined)
      process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = String(options.batchSize);
    try {
      const handle = await initTelemetry(config, {
        env: { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' },
        ...(options.directRecording === undefined ? {} : { directRecording: options.directRecording }),
      });
      for (let i = 0; i < count; i++) startWorkSpan({ queue, workType: 'burst' }).end();
      await handle[options.finish]();
      const requests = otlp.received
        .slice(from)
        .filter((r) => r.path === '/v1/traces')
        .map((r) => protobufSpans(r.raw).filter((x) => x.name === `send ${queue}`).length)
        .filter((n) => n > 0);
      await handle.shutdown();
      // Requests are sent several at a time, so they may arrive in any order: largest first.
      return { spans: requests.reduce((a, b) => a + b, 0), perRequest: requests.sort((a, b) => b - a) };
    } finally {
      if (saved === undefined) delete process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE;
      else process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = saved;
    }
  }

  it('keeps a burst larger than the SDK default queue (2048): all 5000 spans of one go arrive', async () => {
    // One synchronous burst, as a 5000-item submitBatch makes: no export can run in between.
    expect((await burst('burst_q', 5000, { finish: 'shutdown' })).spans).toBe(5000);
  });

  it('sends a full span queue in one flush: more batches than the exporter sends at once all arrive', async () => {
    // 16,000 spans are 32 batches of 512 flushed together; the OTLP exporter refuses more than
    // 30 concurrent exports, so the export thread must queue them, not pass them all on —
    // spans encoded by the thread and direct spans encoded on the main thread alike.
    const sdk = await burst('flood_q', 16_000, { finish: 'forceFlush', directRecording: false });
    expect(sdk.spans).toBe(16_000);
    expect(sdk.perRequest.length).toBeGreaterThanOrEqual(32);
    const direct = await burst('flood_direct_q', 16_000, { finish: 'forceFlush', batchSize: 512 });
    expect(direct.spans).toBe(16_000);
    expect(direct.perRequest).toEqual([...new Array<number>(31).fill(512), 128]);
  });

  it('sends direct work spans 4096 to a request unless OTEL_BSP_MAX_EXPORT_BATCH_SIZE says otherwise', async () => {
    // The SDK's processor (directRecording off) keeps its own default of 512.
    expect((await burst('big_direct_q', 5000, { finish: 'forceFlush' })).perRequest).toEqual([4096, 904]);
    expect(
      (await burst('big_sdk_q', 1000, { finish: 'forceFlush', directRecording: false })).perRequest,
    ).toEqual([512, 488]);
    expect((await burst('set_direct_q', 1000, { finish: 'forceFlush', batchSize: 300 })).perRequest).toEqual([
      300, 300, 300, 100,
    ]);
  });
});
