// Tracer and metric instruments, taken from whatever OTel SDK the host application registered
// through `@opentelemetry/api`. Tracers proxy to a provider registered later, but meters do
// not, so instruments are rebuilt whenever the global meter provider changes. Nothing here
// throws: telemetry must never break the work it observes.
//
// `animus.work.transitions` changes several times per work item, so it is counted here (one
// map entry per from/to/work type) and reported by an asynchronous counter at each collection:
// the same monotonic sum a synchronous counter gives, without the SDK's per-call attribute
// hashing on the work path.
import { createRequire } from 'node:module';
import { metrics, trace } from '@opentelemetry/api';
import type {
  Attributes,
  Histogram,
  Meter,
  MeterProvider,
  ObservableCounter,
  ObservableResult,
  Tracer,
} from '@opentelemetry/api';
import {
  INSTRUMENTATION_SCOPE,
  MetricName,
  OPERATION_DURATION_BUCKETS,
  TOKEN_USAGE_BUCKETS,
  WORK_DURATION_BUCKETS,
  WorkAttr,
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
  /** Reports the counts of {@link workTransitionCount} at each collection. */
  readonly workTransitions: ObservableCounter;
  readonly workDuration: Histogram;
}

let cached: { provider: MeterProvider; instruments: AnimusInstruments } | undefined;

/** One from/to/work type combination of `animus.work.transitions` and its count so far. */
export interface WorkTransitionCount {
  /** `animus.work.state.from`, `animus.work.state.to`, `animus.work.type` (frozen, shareable). */
  readonly attributes: Attributes;
  value: number;
}

/** Lifecycle change counts since the process started: work type → from → to → count. */
const transitionCounts = new Map<string, Map<string, Map<string, WorkTransitionCount>>>();

/**
 * The count of one lifecycle change, created at zero on first use; add to `value` to count
 * (then call {@link ensureInstruments}). Reported at each collection of any meter provider.
 */
export function workTransitionCount(from: string, to: string, workType: string): WorkTransitionCount {
  let byFrom = transitionCounts.get(workType);
  if (byFrom === undefined) transitionCounts.set(workType, (byFrom = new Map()));
  let byTo = byFrom.get(from);
  if (byTo === undefined) byFrom.set(from, (byTo = new Map()));
  let count = byTo.get(to);
  if (count === undefined) {
    count = {
      attributes: Object.freeze({
        [WorkAttr.stateFrom]: from,
        [WorkAttr.stateTo]: to,
        [WorkAttr.type]: workType,
      }),
      value: 0,
    };
    byTo.set(to, count);
  }
  return count;
}

function observeTransitions(result: ObservableResult): void {
  for (const byFrom of transitionCounts.values())
    for (const byTo of byFrom.values())
      for (const count of byTo.values()) if (count.value > 0) result.observe(count.value, count.attributes);
}

/** Makes sure the instruments (and so the transitions callback) exist on the current provider. */
export function ensureInstruments(): void {
  if (cached === undefined || cached.provider !== metrics.getMeterProvider()) safely(animusInstruments);
}

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
    workTransitions: meter.createObservableCounter(MetricName.workTransitions, {
      description: 'Work item lifecycle changes, by from-state, to-state and work type',
      unit: '{transition}',
    }),
    workDuration: meter.createHistogram(MetricName.workDuration, {
      description: 'Duration of one processing attempt of a work item',
      unit: 's',
      advice: { explicitBucketBoundaries: [...WORK_DURATION_BUCKETS] },
    }),
  };
  instruments.workTransitions.addCallback(observeTransitions);
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
