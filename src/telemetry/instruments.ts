// Tracer and metric instruments, taken from whatever OTel SDK the host application registered
// through `@opentelemetry/api`. Tracers proxy to a provider registered later, but meters do
// not, so instruments are rebuilt whenever the global meter provider changes. Nothing here
// throws: telemetry must never break the work it observes.
import { createRequire } from 'node:module';
import { metrics, trace } from '@opentelemetry/api';
import type { Counter, Histogram, Meter, MeterProvider, Tracer } from '@opentelemetry/api';
import {
  INSTRUMENTATION_SCOPE,
  MetricName,
  OPERATION_DURATION_BUCKETS,
  TOKEN_USAGE_BUCKETS,
  WORK_DURATION_BUCKETS,
} from './names.js';

function readVersion(): string {
  try {
    // src/telemetry and dist/telemetry both sit two levels below package.json.
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** animus's package version, as reported on the instrumentation scope and the resource. */
export const ANIMUS_VERSION = readVersion();

/** The tracer animus uses; it follows the global tracer provider even if set later. */
export function animusTracer(): Tracer {
  return trace.getTracer(INSTRUMENTATION_SCOPE, ANIMUS_VERSION);
}

/** The metric instruments animus records into. */
export interface AnimusInstruments {
  readonly meter: Meter;
  readonly tokenUsage: Histogram;
  readonly operationDuration: Histogram;
  readonly workTransitions: Counter;
  readonly workDuration: Histogram;
}

let cached: { provider: MeterProvider; instruments: AnimusInstruments } | undefined;

/** The instruments bound to the current global meter provider (rebuilt when it changes). */
export function animusInstruments(): AnimusInstruments {
  const provider = metrics.getMeterProvider();
  if (cached !== undefined && cached.provider === provider) return cached.instruments;
  const meter = provider.getMeter(INSTRUMENTATION_SCOPE, ANIMUS_VERSION);
  const instruments: AnimusInstruments = {
    meter,
    tokenUsage: meter.createHistogram(MetricName.tokenUsage, {
      description: 'Number of input and output tokens used per GenAI call',
      unit: '{token}',
      advice: { explicitBucketBoundaries: [...TOKEN_USAGE_BUCKETS] },
    }),
    operationDuration: meter.createHistogram(MetricName.operationDuration, {
      description: 'Duration of a GenAI client operation',
      unit: 's',
      advice: { explicitBucketBoundaries: [...OPERATION_DURATION_BUCKETS] },
    }),
    workTransitions: meter.createCounter(MetricName.workTransitions, {
      description: 'Work item lifecycle changes, by from-state, to-state and work type',
      unit: '{transition}',
    }),
    workDuration: meter.createHistogram(MetricName.workDuration, {
      description: 'Duration of one processing attempt of a work item',
      unit: 's',
      advice: { explicitBucketBoundaries: [...WORK_DURATION_BUCKETS] },
    }),
  };
  cached = { provider, instruments };
  return instruments;
}

/** Runs `fn`, swallowing anything it throws: telemetry never throws into callers. */
export function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A broken exporter or SDK must not fail the caller's work.
  }
}
