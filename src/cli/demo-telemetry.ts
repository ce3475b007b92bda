// In-process telemetry for `animus demo`: a tracer provider whose span processor tallies
// spans by name (count and durations) and a meter provider read on demand, both registered
// globally so animus's own instrumentation records into them. Nothing leaves the process.
import { metrics, trace } from '@opentelemetry/api';
import { type Context } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type Histogram } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { GenAiAttr, MetricName, WorkAttr } from '../telemetry/names.js';

/** Spans seen under one name. */
export interface SpanTally {
  name: string;
  count: number;
  errors: number;
  totalMs: number;
  maxMs: number;
}

/** What the demo prints at the end. */
export interface TelemetrySummary {
  spans: SpanTally[];
  /** `gen_ai.client.token.usage` sums by model and token type. */
  tokens: { model: string; type: string; sum: number; calls: number }[];
  /** `gen_ai.client.operation.duration` by operation and model (seconds). */
  operations: { operation: string; model: string; count: number; sumSeconds: number }[];
  /** `animus.work.transitions` by from → to. */
  transitions: { from: string; to: string; count: number }[];
  /** `animus.work.duration` by work type and outcome (seconds). */
  work: { workType: string; outcome: string; count: number; sumSeconds: number }[];
}

class TallyProcessor implements SpanProcessor {
  readonly tallies = new Map<string, SpanTally>();
  onStart(_span: Span, _context: Context): void {}
  onEnd(span: ReadableSpan): void {
    const ms = span.duration[0] * 1000 + span.duration[1] / 1e6;
    const t = this.tallies.get(span.name) ?? { name: span.name, count: 0, errors: 0, totalMs: 0, maxMs: 0 };
    t.count++;
    t.totalMs += ms;
    t.maxMs = Math.max(t.maxMs, ms);
    if (span.status.code === 2) t.errors++;
    this.tallies.set(span.name, t);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Demo telemetry: install, run the demo, then `summary()` and `shutdown()`. */
export interface DemoTelemetry {
  summary(): Promise<TelemetrySummary>;
  shutdown(): Promise<void>;
}

/** Registers the in-process providers globally (the demo process has no other SDK). */
export function installDemoTelemetry(): DemoTelemetry {
  const tally = new TallyProcessor();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [tally] });
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    async summary() {
      const { resourceMetrics } = await reader.collect();
      const out: TelemetrySummary = {
        spans: [...tally.tallies.values()].sort((a, b) => b.count - a.count || a.name.localeCompare(b.name)),
        tokens: [],
        operations: [],
        transitions: [],
        work: [],
      };
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const m of scope.metrics) {
          for (const p of m.dataPoints) {
            const a = p.attributes;
            const str = (k: string) => String(a[k] ?? '-');
            if (m.descriptor.name === MetricName.tokenUsage && m.dataPointType === DataPointType.HISTOGRAM) {
              const h = p.value as Histogram;
              out.tokens.push({
                model: str(GenAiAttr.requestModel),
                type: str(GenAiAttr.tokenType),
                sum: h.sum ?? 0,
                calls: h.count,
              });
            } else if (
              m.descriptor.name === MetricName.operationDuration &&
              m.dataPointType === DataPointType.HISTOGRAM
            ) {
              const h = p.value as Histogram;
              out.operations.push({
                operation: str(GenAiAttr.operationName),
                model: str(GenAiAttr.requestModel),
                count: h.count,
                sumSeconds: h.sum ?? 0,
              });
            } else if (m.descriptor.name === MetricName.workTransitions) {
              out.transitions.push({
                from: str(WorkAttr.stateFrom),
                to: str(WorkAttr.stateTo),
                count: p.value as number,
              });
            } else if (
              m.descriptor.name === MetricName.workDuration &&
              m.dataPointType === DataPointType.HISTOGRAM
            ) {
              const h = p.value as Histogram;
              out.work.push({
                workType: str(WorkAttr.type),
                outcome: str(WorkAttr.outcome),
                count: h.count,
                sumSeconds: h.sum ?? 0,
              });
            }
          }
        }
      }
      return out;
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      trace.disable();
      metrics.disable();
    },
  };
}

/** Human lines for the telemetry summary. */
export function formatTelemetry(s: TelemetrySummary): string[] {
  const lines = ['Telemetry recorded in this run:', '  spans (count, mean, max):'];
  for (const t of s.spans) {
    lines.push(
      `    ${t.name.padEnd(44)} ${String(t.count).padStart(5)}  ${(t.totalMs / t.count).toFixed(1).padStart(8)} ms  ${t.maxMs.toFixed(1).padStart(8)} ms${t.errors > 0 ? `  (${t.errors} errors)` : ''}`,
    );
  }
  if (s.operations.length > 0) lines.push('  GenAI operations (gen_ai.client.operation.duration):');
  for (const o of s.operations) {
    lines.push(
      `    ${o.operation} ${o.model}: ${o.count} calls, ${(o.sumSeconds * 1000).toFixed(0)} ms in total`,
    );
  }
  if (s.tokens.length > 0) lines.push('  tokens (gen_ai.client.token.usage):');
  for (const t of s.tokens) lines.push(`    ${t.model} ${t.type}: ${t.sum} tokens over ${t.calls} calls`);
  if (s.tokens.length === 0)
    lines.push('  tokens: none reported (the bundled offline model does not count tokens)');
  if (s.transitions.length > 0) lines.push('  work transitions (animus.work.transitions):');
  for (const t of s.transitions) lines.push(`    ${t.from} → ${t.to}: ${t.count}`);
  for (const w of s.work) {
    lines.push(
      `  work ${w.workType} ${w.outcome}: ${w.count} items, mean ${((w.sumSeconds / Math.max(1, w.count)) * 1000).toFixed(0)} ms`,
    );
  }
  return lines;
}
