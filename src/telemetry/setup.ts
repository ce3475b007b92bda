// OTel SDK setup for the animus service and CLI (the library itself only uses the API): OTLP
// over HTTP for traces, metrics and logs when an endpoint is configured (spans are encoded and
// sent on a worker thread, see span-export-thread.ts), an optional
// Prometheus reader for `GET /metrics`, resource `service.name` + version + instance id. SDK
// packages are imported lazily so a library user never loads them. Start-up problems are
// reported through the returned handle, never thrown into the service.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { metrics, trace } from '@opentelemetry/api';
import type { Context, Tracer } from '@opentelemetry/api';
import { getNumberFromEnv } from '@opentelemetry/core';
import type * as OtlpProtoTraceModule from '@opentelemetry/exporter-trace-otlp-proto';
import type * as TraceBaseModule from '@opentelemetry/sdk-trace-base';
import type { AnimusConfig } from '../config/index.js';
import { ANIMUS_VERSION } from './instruments.js';
import { setLogBridge } from './logger.js';
import type { BridgedLogRecord } from './logger.js';
import { CommonAttr, INSTRUMENTATION_SCOPE } from './names.js';
import { setContentCapture } from './settings.js';
import { setDirectSpanSink } from './direct-spans.js';
import { setLocalWorkDuration, workDurationProducer } from './work-duration.js';
import type { DirectSampler, DirectSpanProcessor, DirectSpanSink } from './direct-spans.js';
import type { EncodableSpan } from './direct-span-encoder.js';
import type { DirectSpanQueue, DirectSpanQueueOptions } from './direct-span-queue.js';

/** Options of {@link initTelemetry}. */
export interface InitTelemetryOptions {
  /** Add a Prometheus reader; its text is served by `handle.metricsText()`. Default false. */
  prometheus?: boolean;
  /** Environment for the `OTEL_*` switches. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Metric export interval in ms. Default `OTEL_METRIC_EXPORT_INTERVAL`, else 60000. */
  metricExportIntervalMs?: number;
  /** `service.instance.id`. Default: a random UUID per process. */
  instanceId?: string;
  /**
   * Encode and send spans on a worker thread ({@link ThreadedSpanExporter}) instead of the main
   * thread. Default: `config.telemetry.exportThread` (`ANIMUS_OTEL_EXPORT_THREAD`, true), since
   * handing a span over costs about a third of encoding it.
   */
  exportThread?: boolean;
  /**
   * The export thread's nice value on Linux, 0 to 19 (see `ThreadedSpanExporterOptions.nice`).
   * Default: `config.telemetry.exportThreadNice` (`ANIMUS_OTEL_EXPORT_THREAD_NICE`, 10).
   */
  exportThreadNice?: number;
  /**
   * With the export thread and direct work spans over protobuf, hand the thread lazily recorded
   * attempts as records (attempt-record.ts) for it to encode, instead of encoding them on the
   * main thread; the main thread encodes them until the thread has loaded the encoder. Default
   * true.
   */
  threadRecords?: boolean;
  /**
   * Record animus's work spans straight into the span processors set up here (see
   * direct-spans.ts) when the span limits are the defaults, and count
   * `animus.work.duration` for the metric readers set up here (see work-duration.ts) when the
   * metric temporality is the default. Default: `config.telemetry.directRecording`
   * (`ANIMUS_OTEL_DIRECT_RECORDING`, true).
   */
  directRecording?: boolean;
}

/** Which signals are exported over OTLP. */
export interface ExportedSignals {
  traces: boolean;
  metrics: boolean;
  logs: boolean;
}

/** The running telemetry setup. */
export interface TelemetryHandle {
  /** Signals sent over OTLP (all false when no endpoint is configured). */
  readonly exporting: ExportedSignals;
  /** `service.instance.id` of this process. */
  readonly instanceId: string;
  /** Whether spans are encoded and sent on the export thread (false: on the main thread or not at all). */
  readonly spanExportThread: boolean;
  /** Whether animus's work spans go straight to the span processors (see direct-spans.ts). */
  readonly directSpans: boolean;
  /**
   * Resolves to whether lazily recorded attempts are encoded on the export thread (true once
   * the thread has loaded the encoder; false when they are encoded on the main thread).
   */
  readonly threadRecords: Promise<boolean>;
  /** Whether `animus.work.duration` is counted by animus for the readers (see work-duration.ts). */
  readonly localWorkDuration: boolean;
  /** Prometheus text exposition of the current metrics; `undefined` without `prometheus`. */
  readonly metricsText: (() => Promise<string>) | undefined;
  /** Exports everything buffered so far. Never throws. */
  forceFlush(): Promise<void>;
  /** Flushes and stops the SDK; later calls do nothing. Never throws. */
  shutdown(): Promise<void>;
}

const SIGNAL_PATH = { traces: 'v1/traces', metrics: 'v1/metrics', logs: 'v1/logs' } as const;
const PER_SIGNAL_ENV = {
  traces: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  metrics: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  logs: 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
} as const;
const PER_SIGNAL_PROTOCOL_ENV = {
  traces: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  metrics: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
  logs: 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL',
} as const;
const SELECTOR_ENV = {
  traces: 'OTEL_TRACES_EXPORTER',
  metrics: 'OTEL_METRICS_EXPORTER',
  logs: 'OTEL_LOGS_EXPORTER',
} as const;

type Signal = keyof typeof SIGNAL_PATH;

/**
 * Spans the batch processor holds while an export is in flight, past which it drops them:
 * `OTEL_BSP_MAX_QUEUE_SIZE`, else 16384. The SDK's 2048 is less than one `submitBatch` may
 * start (up to 10,000 PRODUCER spans in one call), so bursts lost spans.
 */
export const DEFAULT_SPAN_QUEUE_SIZE = 16_384;

function spanQueueSize(env: Record<string, string | undefined>): number {
  const fromEnv = Number(nonEmpty(env.OTEL_BSP_MAX_QUEUE_SIZE));
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_SPAN_QUEUE_SIZE;
}

/**
 * Spans per request of the direct work-span queue when `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` is not
 * set: 4096 instead of the SDK's 512. Each request costs the sender and the collector a wake-up
 * and an HTTP exchange whatever its size: on the queue benchmark's machine, requests of 512
 * consumer spans cost the export thread about 4.5 µs a span and the receiver 2.3 µs, requests
 * of 4096 about 2 and 1.1 µs. Work spans are small (an attempt's about 630 bytes), so such a
 * request is about 2.6 MB; requests are also held under {@link DIRECT_EXPORT_MAX_BYTES}.
 */
export const DIRECT_EXPORT_BATCH_SIZE = 4096;

/**
 * Bytes of spans per request of the direct work-span queue past which a batch leaves smaller
 * (a failed attempt's exception with a long message or stack makes its span larger): 8 MiB, well
 * under the 20 MiB an OpenTelemetry Collector's OTLP/HTTP receiver accepts by default.
 */
export const DIRECT_EXPORT_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The direct work-span queue's settings: the SDK's `BatchSpanProcessor` settings (`OTEL_BSP_*`
 * from the process environment, the SDK's defaults otherwise) with animus's queue size and,
 * unless the variable sets it, {@link DIRECT_EXPORT_BATCH_SIZE} spans per request.
 */
function batchSettings(maxQueueSize: number): DirectSpanQueueOptions {
  return {
    maxQueueSize,
    maxExportBatchSize: getNumberFromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? DIRECT_EXPORT_BATCH_SIZE,
    maxExportBytes: DIRECT_EXPORT_MAX_BYTES,
    scheduledDelayMillis: getNumberFromEnv('OTEL_BSP_SCHEDULE_DELAY') ?? 5000,
    exportTimeoutMillis: getNumberFromEnv('OTEL_BSP_EXPORT_TIMEOUT') ?? 30_000,
  };
}

/** The OTLP/HTTP encodings animus exports with. */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

/**
 * The encoding of a signal: `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_PROTOCOL`, else
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf` (the specification's default). `grpc`
 * is not offered; like any other unknown value it falls back to `http/protobuf`.
 */
export function otlpProtocol(signal: Signal, env: Record<string, string | undefined>): OtlpProtocol {
  const value = (
    nonEmpty(env[PER_SIGNAL_PROTOCOL_ENV[signal]]) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL)
  )?.toLowerCase();
  return value === 'http/json' ? 'http/json' : 'http/protobuf';
}

/** Where a signal is exported (`undefined`: not exported). */
function exportTarget(
  signal: Signal,
  endpoint: string | undefined,
  env: Record<string, string | undefined>,
): { url: string } | undefined {
  const selector = env[SELECTOR_ENV[signal]]?.trim().toLowerCase();
  if (selector !== undefined && selector.split(',').includes('none')) return undefined;
  const perSignal = env[PER_SIGNAL_ENV[signal]]?.trim();
  // A per-signal endpoint is the full URL, used as it is (OTLP exporter spec).
  if (perSignal !== undefined && perSignal !== '') return { url: perSignal };
  if (endpoint === undefined) return undefined;
  return { url: `${endpoint.replace(/\/+$/, '')}/${SIGNAL_PATH[signal]}` };
}

// OTel log data model severity numbers (DEBUG, INFO, WARN, ERROR).
function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

const SEVERITY: Record<BridgedLogRecord['level'], number> = { debug: 5, info: 9, warn: 13, error: 17 };

function logAttributes(record: BridgedLogRecord): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { 'logger.name': record.name };
  for (const [k, v] of Object.entries(record.fields)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (v !== undefined && v !== null) out[k] = JSON.stringify(v);
  }
  return out;
}

// The variables that make the SDK limit spans other than by default; with any of them set,
// work spans go through the SDK tracer, which applies them (read from the process
// environment, as the SDK reads them).
const SPAN_LIMIT_ENV = [
  'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_SPAN_EVENT_COUNT_LIMIT',
  'OTEL_SPAN_LINK_COUNT_LIMIT',
  'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT',
];

type Samplers = Pick<
  typeof TraceBaseModule,
  'AlwaysOnSampler' | 'AlwaysOffSampler' | 'ParentBasedSampler' | 'TraceIdRatioBasedSampler'
>;

/**
 * The sampler `OTEL_TRACES_SAMPLER` (and `_ARG`) name, built as the Node SDK builds it from
 * the environment; `undefined` for none or an unknown name (the SDK's default,
 * `parentbased_always_on`, applies). It is given to the SDK, and the direct work spans ask the
 * same instance.
 */
export function samplerFromEnv(
  env: Record<string, string | undefined>,
  s: Samplers,
): TraceBaseModule.Sampler | undefined {
  const name = nonEmpty(env.OTEL_TRACES_SAMPLER);
  const ratio = (): number => {
    const arg = nonEmpty(env.OTEL_TRACES_SAMPLER_ARG);
    const value = arg === undefined ? Number.NaN : Number(arg);
    return Number.isFinite(value) && value >= 0 && value <= 1 ? value : 1;
  };
  switch (name) {
    case 'always_on':
      return new s.AlwaysOnSampler();
    case 'always_off':
      return new s.AlwaysOffSampler();
    case 'parentbased_always_on':
      return new s.ParentBasedSampler({ root: new s.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new s.ParentBasedSampler({ root: new s.AlwaysOffSampler() });
    case 'traceidratio':
      return new s.TraceIdRatioBasedSampler(ratio());
    case 'parentbased_traceidratio':
      return new s.ParentBasedSampler({ root: new s.TraceIdRatioBasedSampler(ratio()) });
    default:
      return undefined;
  }
}

/** Whether the SDK's propagators (`OTEL_PROPAGATORS`, default `tracecontext,baggage`) read trace context as W3C only. */
function w3cPropagation(value: string | undefined): boolean {
  const names = (value ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== '');
  if (names.length === 0) return true;
  return names.includes('tracecontext') && names.every((n) => n === 'tracecontext' || n === 'baggage');
}

/**
 * Hands the started SDK's span processors, resource and animus's scope to the direct work
 * spans, when the span limits allow it. The resource and scope are read off one
 * (never ended, so never exported) span of the SDK's own tracer. Returns whether it did.
 */
function installDirectSpans(
  processors: DirectSpanProcessor[],
  sampler: DirectSampler | undefined,
  IdGenerator: new () => { generateTraceId(): string; generateSpanId(): string },
  suppressed: (context: Context) => boolean,
  enqueue: ((span: EncodableSpan) => void) | undefined,
): boolean {
  if (SPAN_LIMIT_ENV.some((name) => nonEmpty(process.env[name]) !== undefined)) return false;
  const global = trace.getTracerProvider() as { getDelegate?: () => unknown };
  const provider = global.getDelegate?.();
  if (typeof provider !== 'object' || provider === null) return false;
  const tracer = (provider as { getTracer(name: string, version?: string): Tracer }).getTracer(
    INSTRUMENTATION_SCOPE,
    ANIMUS_VERSION,
  );
  const probe = tracer.startSpan('animus.telemetry.probe', { root: true }) as unknown as {
    resource?: unknown;
    instrumentationScope?: { name: string; version?: string; schemaUrl?: string };
  };
  // A sampler may drop the probe (a non-recording span has neither): the tracer holds both too.
  const own = tracer as unknown as { _resource?: unknown; instrumentationScope?: DirectSpanSink['scope'] };
  const resource = probe.resource ?? own._resource;
  const scope = probe.instrumentationScope ?? own.instrumentationScope;
  if (resource === undefined || scope === undefined) return false;
  const ids = new IdGenerator();
  setDirectSpanSink({
    provider,
    resource,
    scope,
    ...(sampler === undefined ? {} : { sampler }),
    w3cPropagation: w3cPropagation(process.env.OTEL_PROPAGATORS),
    processors,
    ...(enqueue === undefined ? {} : { enqueue }),
    newTraceId: () => ids.generateTraceId(),
    newSpanId: () => ids.generateSpanId(),
    suppressed,
  });
  return true;
}

/**
 * The URL of tsx's `esm/api` when `module` is a TypeScript file (animus run from its sources,
 * as under vitest), for the export thread to register before it imports it; else undefined.
 */
function typeScriptLoader(module: string): string | undefined {
  if (!module.endsWith('.ts')) return undefined;
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return undefined;
  }
}

/**
 * Sets up OpenTelemetry for the service: OTLP/HTTP exporters for traces, metrics and logs when
 * `config.telemetry.otlpEndpoint` (`OTEL_EXPORTER_OTLP_ENDPOINT`) or a per-signal
 * `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` is set; `OTEL_{TRACES,METRICS,LOGS}_EXPORTER=none`
 * turns a signal off, `OTEL_SDK_DISABLED=true` all of them; sampler, batch sizes, headers and
 * resource attributes follow the standard `OTEL_*` variables. Also applies
 * `config.telemetry.captureContent`. With nothing to export and no Prometheus reader, no SDK
 * is started and the handle does nothing.
 */
export async function initTelemetry(
  config: AnimusConfig,
  options: InitTelemetryOptions = {},
): Promise<TelemetryHandle> {
  const env = options.env ?? process.env;
  const instanceId = options.instanceId ?? randomUUID();
  setContentCapture(config.telemetry.captureContent);
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  const endpoint = config.telemetry.otlpEndpoint ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const targets = {
    traces: disabled ? undefined : exportTarget('traces', endpoint, env),
    metrics: disabled ? undefined : exportTarget('metrics', endpoint, env),
    logs: disabled ? undefined : exportTarget('logs', endpoint, env),
  };
  const exporting: ExportedSignals = {
    traces: targets.traces !== undefined,
    metrics: targets.metrics !== undefined,
    logs: targets.logs !== undefined,
  };
  const prometheus = options.prometheus === true && !disabled;
  if (!exporting.traces && !exporting.metrics && !exporting.logs && !prometheus) {
    return {
      exporting,
      instanceId,
      spanExportThread: false,
      directSpans: false,
      threadRecords: Promise.resolve(false),
      localWorkDuration: false,
      metricsText: undefined,
      forceFlush: async () => {},
      shutdown: async () => {},
    };
  }

  const [sdkNode, resources, traceBase, sdkMetrics, sdkLogs, { isTracingSuppressed }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/sdk-logs'),
    import('@opentelemetry/core'),
  ]);

  const protocols = {
    traces: otlpProtocol('traces', env),
    metrics: otlpProtocol('metrics', env),
    logs: otlpProtocol('logs', env),
  };
  const spanProcessors = [];
  const direct = options.directRecording ?? config.telemetry.directRecording;
  // Where direct work spans go when they are encoded on this thread (protobuf over the thread).
  let directQueue: DirectSpanQueue | undefined;
  let threadRecords = Promise.resolve(false);
  const spanExportThread =
    targets.traces !== undefined && (options.exportThread ?? config.telemetry.exportThread);
  if (targets.traces !== undefined) {
    const exporterModule =
      protocols.traces === 'http/json'
        ? '@opentelemetry/exporter-trace-otlp-http'
        : '@opentelemetry/exporter-trace-otlp-proto';
    const batchConfig = { maxQueueSize: spanQueueSize(env) };
    if (!spanExportThread) {
      // Both packages export the same class shape; protobuf's types stand for both.
      const { OTLPTraceExporter } = (await import(exporterModule)) as typeof OtlpProtoTraceModule;
      spanProcessors.push(
        new traceBase.BatchSpanProcessor(new OTLPTraceExporter(targets.traces), batchConfig),
      );
    } else {
      const [{ FlushingSpanProcessor, ThreadedSpanExporter }, { RECORD_MODULE }] = await Promise.all([
        import('./span-export-thread.js'),
        import('./attempt-record.js'),
      ]);
      // Records are lazy attempts', which only direct recording makes: without it the thread
      // does not load their module.
      const records = direct && protocols.traces === 'http/protobuf' && (options.threadRecords ?? true);
      const exporter = new ThreadedSpanExporter({
        exporterModule: createRequire(import.meta.url).resolve(exporterModule),
        exporterConfig: { ...targets.traces },
        ...(records ? { recordModule: RECORD_MODULE, recordLoader: typeScriptLoader(RECORD_MODULE) } : {}),
        nice: options.exportThreadNice ?? config.telemetry.exportThreadNice,
      });
      threadRecords = exporter.recordsReady();
      // Direct work spans (protobuf only) are encoded on this thread when their batch leaves,
      // in a queue with the batch processor's settings (direct-span-queue.ts).
      if (protocols.traces === 'http/protobuf') {
        const [{ DirectSpanQueue }, { DirectSpanEncoder }] = await Promise.all([
          import('./direct-span-queue.js'),
          import('./direct-span-encoder.js'),
        ]);
        const encoder = new DirectSpanEncoder();
        exporter.recycleBuffers((buffer) => encoder.recycle(buffer));
        directQueue = new DirectSpanQueue(
          encoder,
          (bytes, count, done) => exporter.sendEncoded(bytes, count, done),
          batchSettings(batchConfig.maxQueueSize),
          exporter.records,
        );
      }
      spanProcessors.push(
        new FlushingSpanProcessor(
          new traceBase.BatchSpanProcessor(exporter, batchConfig),
          exporter,
          directQueue,
        ),
      );
    }
  }
  // Cumulative is the default temporality and the only one the local counts report.
  const temporality = (process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE ?? '')
    .trim()
    .toLowerCase();
  const durationProducer =
    direct && (temporality === '' || temporality === 'cumulative')
      ? workDurationProducer({ name: INSTRUMENTATION_SCOPE, version: ANIMUS_VERSION })
      : undefined;
  const metricProducers = durationProducer === undefined ? [] : [durationProducer];
  const metricReaders = [];
  if (targets.metrics !== undefined) {
    const { OTLPMetricExporter } =
      protocols.metrics === 'http/json'
        ? await import('@opentelemetry/exporter-metrics-otlp-http')
        : await import('@opentelemetry/exporter-metrics-otlp-proto');
    const fromEnv = Number(env.OTEL_METRIC_EXPORT_INTERVAL);
    const interval = options.metricExportIntervalMs ?? (fromEnv > 0 ? fromEnv : 60_000);
    metricReaders.push(
      new sdkMetrics.PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(targets.metrics),
        exportIntervalMillis: interval,
        exportTimeoutMillis: Math.min(30_000, interval),
        metricProducers,
      }),
    );
  }
  let metricsText: (() => Promise<string>) | undefined;
  if (prometheus) {
    const { PrometheusExporter, PrometheusSerializer } = await import('@opentelemetry/exporter-prometheus');
    const reader = new PrometheusExporter({ preventServerStart: true, metricProducers });
    const serializer = new PrometheusSerializer();
    metricReaders.push(reader);
    metricsText = async () => {
      const { resourceMetrics } = await reader.collect();
      return serializer.serialize(resourceMetrics);
    };
  }
  const logRecordProcessors = [];
  if (targets.logs !== undefined) {
    const { OTLPLogExporter } =
      protocols.logs === 'http/json'
        ? await import('@opentelemetry/exporter-logs-otlp-http')
        : await import('@opentelemetry/exporter-logs-otlp-proto');
    logRecordProcessors.push(
      new sdkLogs.BatchLogRecordProcessor({ exporter: new OTLPLogExporter(targets.logs) }),
    );
  }

  const sampler = samplerFromEnv(process.env, traceBase);
  const sdk = new sdkNode.NodeSDK({
    serviceName: config.telemetry.serviceName,
    ...(sampler === undefined ? {} : { sampler }),
    resource: resources.resourceFromAttributes({
      [CommonAttr.serviceVersion]: ANIMUS_VERSION,
      [CommonAttr.serviceInstanceId]: instanceId,
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
    }),
    // No process detector: it exports the command line, and CLI arguments may carry memory
    // content or other data that must not leave the host.
    resourceDetectors: [resources.envDetector, resources.hostDetector, resources.osDetector],
    // Explicit (possibly empty) lists: otherwise the SDK falls back to its own env defaults
    // and would export to localhost:4318 even when nothing was configured.
    spanProcessors,
    metricReaders,
    logRecordProcessors,
  });
  sdk.start();
  const directSpans =
    direct && targets.traces !== undefined
      ? installDirectSpans(
          spanProcessors,
          sampler,
          traceBase.RandomIdGenerator,
          isTracingSuppressed,
          // Lazily recorded attempts (attempt-span.ts) go straight to the direct span queue when
          // it is where every direct span goes.
          directQueue === undefined ? undefined : (span) => directQueue.addSampled(span),
        )
      : false;
  const localWorkDuration = durationProducer !== undefined && metricReaders.length > 0;
  if (localWorkDuration) setLocalWorkDuration(metrics.getMeterProvider());

  let loggerProvider: { forceFlush(): Promise<void> } | undefined;
  if (logRecordProcessors.length > 0) {
    const { logs } = await import('@opentelemetry/api-logs');
    const otelLogger = logs.getLogger(INSTRUMENTATION_SCOPE, ANIMUS_VERSION);
    loggerProvider = logs.getLoggerProvider() as unknown as { forceFlush(): Promise<void> };
    setLogBridge((record) => {
      otelLogger.emit({
        timestamp: record.time,
        severityNumber: SEVERITY[record.level],
        severityText: record.level.toUpperCase(),
        body: record.msg,
        attributes: logAttributes(record),
        context: record.context,
      });
    });
  }

  type Flushable = { forceFlush?: () => Promise<void> };
  const providers = (): Flushable[] => {
    const tracerProvider = trace.getTracerProvider() as { getDelegate?: () => unknown };
    const delegate = (tracerProvider.getDelegate?.() ?? tracerProvider) as Flushable;
    return [delegate, metrics.getMeterProvider() as Flushable, loggerProvider ?? {}];
  };
  let stopped = false;
  return {
    exporting,
    instanceId,
    spanExportThread,
    directSpans,
    threadRecords: directSpans ? threadRecords : Promise.resolve(false),
    localWorkDuration,
    metricsText,
    async forceFlush() {
      await Promise.all(
        providers().map((p) => (typeof p.forceFlush === 'function' ? p.forceFlush() : undefined)),
      ).catch(() => {});
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      setLogBridge(undefined);
      if (directSpans) setDirectSpanSink(undefined);
      if (localWorkDuration) setLocalWorkDuration(undefined);
      await sdk.shutdown().catch(() => {});
    },
  };
}
