// `animus.work.duration`: one point per processing attempt. Through the SDK, a histogram
// record hashes its attributes (sorting and serialising them) on every call, which on a busy
// worker costs more than the rest of the attempt's bookkeeping. When animus's own setup owns
// the meter provider (`initTelemetry`), the attempts are counted here instead, into the same
// explicit buckets per (queue, work type, outcome), and handed to that provider's readers by a
// MetricProducer as a cumulative histogram — the data the SDK instrument would have reported.
// Otherwise (an application's own SDK) they go to the SDK histogram as before. Never throws.
import { metrics, ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { CollectionResult, MetricProducer } from '@opentelemetry/sdk-metrics';
import { hrTime } from '@opentelemetry/core';
import { animusInstruments } from './instruments.js';
import { CommonAttr, MessagingAttr, MetricName, WORK_DURATION_BUCKETS, WorkAttr } from './names.js';

/** Counts of one attribute set (explicit buckets, as the SDK's histogram aggregation keeps them). */
interface Accumulation {
  readonly counts: number[];
  sum: number;
  count: number;
  min: number;
  max: number;
  readonly startTime: HrTime;
}

interface Entry {
  readonly attributes: Attributes;
  /** False for sets past the limit: counted locally under the overflow set. */
  readonly kept: boolean;
  /** Set when counted here (the local path); created on the first point. */
  local: Accumulation | undefined;
}

// One entry per queue → work type → outcome. Past the limit (thousands of work types) the
// SDK's own overflow rule applies: further sets are counted under `otel.metric.overflow`.
const ENTRY_LIMIT = 2000;
const entries = new Map<string, Map<string, Map<string, Entry>>>();
let entryCount = 0;
const OVERFLOW: Entry = {
  attributes: Object.freeze({ [CommonAttr.metricOverflow]: true }),
  kept: true,
  local: undefined,
};

/** The last entry looked up and its keys (attempts in a row mostly share all three). */
let lastQueue = '';
let lastType = '';
let lastOutcome = '';
let lastEntry: Entry | undefined;

function entryFor(queue: string, workType: string, outcome: string): Entry {
  if (lastEntry !== undefined && outcome === lastOutcome && workType === lastType && queue === lastQueue)
    return lastEntry;
  const entry = lookUp(queue, workType, outcome);
  lastQueue = queue;
  lastType = workType;
  lastOutcome = outcome;
  lastEntry = entry;
  return entry;
}

function lookUp(queue: string, workType: string, outcome: string): Entry {
  let byType = entries.get(queue);
  if (byType === undefined) entries.set(queue, (byType = new Map()));
  let byOutcome = byType.get(workType);
  if (byOutcome === undefined) byType.set(workType, (byOutcome = new Map()));
  let entry = byOutcome.get(outcome);
  if (entry === undefined) {
    const attributes = Object.freeze({
      [MessagingAttr.destinationName]: queue,
      [WorkAttr.type]: workType,
      [WorkAttr.outcome]: outcome,
    });
    if (entryCount >= ENTRY_LIMIT) return { attributes, kept: false, local: undefined };
    entry = { attributes, kept: true, local: undefined };
    byOutcome.set(outcome, entry);
    entryCount++;
  }
  return entry;
}

const BOUNDARIES: readonly number[] = WORK_DURATION_BUCKETS;
/** The meter provider whose readers take the local counts, while it is the global one. */
let localFor: object | undefined;

function count(entry: Entry, seconds: number): void {
  const target = entry.kept ? entry : OVERFLOW;
  const acc = (target.local ??= {
    counts: new Array<number>(BOUNDARIES.length + 1).fill(0),
    sum: 0,
    count: 0,
    min: Infinity,
    max: -Infinity,
    startTime: hrTime(),
  });
  // The first bucket whose upper bound is >= the value (bounds are inclusive, as the SDK's).
  let lo = 0;
  let hi = BOUNDARIES.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (BOUNDARIES[mid]! < seconds) lo = mid + 1;
    else hi = mid;
  }
  acc.counts[lo]!++;
  acc.sum += seconds;
  acc.count++;
  if (seconds < acc.min) acc.min = seconds;
  if (seconds > acc.max) acc.max = seconds;
}

/** Records one `animus.work.duration` point in seconds. Never throws. */
export function recordWorkDuration(
  seconds: number,
  attributes: { queue: string; workType: string; outcome: string },
): void {
  recordWorkDurationOf(seconds, attributes.queue, attributes.workType, attributes.outcome);
}

/** {@link recordWorkDuration} with the attributes as arguments (no object per attempt). */
export function recordWorkDurationOf(
  seconds: number,
  queue: string,
  workType: string,
  outcome: string,
): void {
  try {
    if (!(seconds >= 0)) return; // a histogram takes no negative or NaN values
    const entry = entryFor(queue, workType, outcome);
    if (localFor !== undefined && metrics.getMeterProvider() === localFor) count(entry, seconds);
    else animusInstruments().workDuration.record(seconds, entry.attributes);
  } catch {
    // Telemetry never throws into callers.
  }
}

/**
 * Counts `animus.work.duration` here for `provider`'s readers (which must include
 * {@link workDurationProducer}), from zero; `undefined` goes back to the SDK histogram.
 */
export function setLocalWorkDuration(provider: object | undefined): void {
  if (provider === localFor) return;
  localFor = provider;
  // A new provider starts from nothing, as the SDK's instruments of a new provider do.
  for (const byType of entries.values())
    for (const byOutcome of byType.values()) for (const entry of byOutcome.values()) entry.local = undefined;
  OVERFLOW.local = undefined;
}

/** A histogram data point as the SDK's metric readers take it. */
interface HistogramPoint {
  startTime: HrTime;
  endTime: HrTime;
  attributes: Attributes;
  value: {
    buckets: { boundaries: number[]; counts: number[] };
    sum: number;
    count: number;
    min: number;
    max: number;
  };
}

/**
 * The MetricProducer that reports the locally counted `animus.work.duration` (cumulative, one
 * point per attribute set seen so far) under animus's instrumentation scope. Give it to the
 * readers of the meter provider passed to {@link setLocalWorkDuration}.
 */
export function workDurationProducer(scope: { name: string; version?: string }): MetricProducer {
  const descriptor = {
    name: MetricName.workDuration,
    description: 'Duration of one processing attempt of a work item',
    unit: 's',
    valueType: ValueType.DOUBLE,
    type: 'HISTOGRAM',
    advice: { explicitBucketBoundaries: [...BOUNDARIES] },
  };
  return {
    collect() {
      const endTime = hrTime();
      const dataPoints: HistogramPoint[] = [];
      const add = (entry: Entry) => {
        const acc = entry.local;
        if (acc === undefined || acc.count === 0) return;
        dataPoints.push({
          startTime: acc.startTime,
          endTime,
          attributes: entry.attributes,
          value: {
            buckets: { boundaries: [...BOUNDARIES], counts: [...acc.counts] },
            sum: acc.sum,
            count: acc.count,
            min: acc.min,
            max: acc.max,
          },
        });
      };
      for (const byType of entries.values())
        for (const byOutcome of byType.values()) for (const entry of byOutcome.values()) add(entry);
      add(OVERFLOW);
      const scopeMetrics =
        dataPoints.length === 0
          ? []
          : [
              {
                scope,
                metrics: [
                  {
                    descriptor,
                    // AggregationTemporality.CUMULATIVE and DataPointType.HISTOGRAM of sdk-metrics.
                    aggregationTemporality: 1,
                    dataPointType: 0,
                    dataPoints,
                  },
                ],
              },
            ];
      // The reader keeps the SDK's resource; this one is not read.
      return Promise.resolve({
        resourceMetrics: { resource: undefined, scopeMetrics },
        errors: [],
      } as unknown as CollectionResult);
    },
  };
}
