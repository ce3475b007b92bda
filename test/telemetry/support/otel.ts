// In-memory OTel SDK for telemetry tests: spans into an InMemorySpanExporter through a
// SimpleSpanProcessor, metrics into a reader collected on demand, registered as the globals
// of this test file's process (each vitest file runs in its own fork).
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface TestOtel {
  spans: InMemorySpanExporter;
  reader: MetricReader;
  /** Finished spans with this name. */
  spansNamed(name: string): ReadableSpan[];
  /** All metric streams with this name from one collection. */
  collectMetric(name: string): Promise<MetricData | undefined>;
  reset(): void;
}

let installed: TestOtel | undefined;

/** Installs the in-memory SDK once per process and returns it. */
export function installTestOtel(): TestOtel {
  if (installed !== undefined) return installed;
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  const reader = new OnDemandReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  installed = {
    spans,
    reader,
    spansNamed: (name) => spans.getFinishedSpans().filter((s) => s.name === name),
    async collectMetric(name) {
      const { resourceMetrics } = await reader.collect();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const m of scope.metrics) if (m.descriptor.name === name) return m;
      }
      return undefined;
    },
    reset: () => spans.reset(),
  };
  return installed;
}

/** The data point whose attributes include all of `match`. */
export function pointWith<T>(metric: MetricData | undefined, match: Attributes): DataPoint<T> | undefined {
  const points = (metric?.dataPoints ?? []) as Array<DataPoint<T>>;
  return points.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
}

export type { Histogram, ReadableSpan };
