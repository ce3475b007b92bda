// Every metric the Grafana dashboard and the Prometheus rules name must be one animus really
// emits: the names come from recording through animus's own telemetry helpers into a real
// SDK and serialising with the Prometheus exporter that serves /metrics, plus the
// OpenTelemetry Collector's naming (unit suffixes, `_total`) for the collector path.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metrics } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordOperationDuration, recordTokenUsage } from '../../src/telemetry/genai.js';
import { MetricName } from '../../src/telemetry/names.js';
import { recordWorkDuration } from '../../src/telemetry/work-duration.js';
import { recordWorkLifecycle, registerQueueGauges } from '../../src/telemetry/work-spans.js';

const deployDir = join(import.meta.dirname, '..', '..', 'deploy');

class Reader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Prometheus unit suffixes the Collector's exporter adds (OTel → Prometheus compatibility spec). */
const UNIT_SUFFIX: Record<string, string> = { s: 'seconds', ms: 'milliseconds', By: 'bytes', '1': 'ratio' };

const direct = new Set<string>();
const collector = new Set<string>();
const labels = new Set<string>(['le', 'job', 'instance']);
const sanitize = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_');

const provider = new MeterProvider({ readers: [] });
const reader = new Reader();
let unregister: () => void = () => {};

beforeAll(async () => {
  const p = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(p);
  // Record one point through each of animus's helpers, with realistic attributes.
  const genai = { operation: 'embeddings', provider: 'openai', requestModel: 'text-embedding-3-small' };
  recordTokenUsage(genai, { inputTokens: 12, outputTokens: 3 });
  recordOperationDuration(genai, 0.2);
  recordOperationDuration(genai, 0.4, 'timeout');
  recordWorkLifecycle(undefined, undefined, 'queued', 'memory.ingest');
  recordWorkDuration(0.5, { queue: 'work', workType: 'memory.ingest', outcome: 'completed' });
  unregister = registerQueueGauges(async () => [{ queue: 'work', length: 3, oldestAgeSeconds: 12 }]);
  const { resourceMetrics } = await reader.collect();
  for (const line of new PrometheusSerializer().serialize(resourceMetrics).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s/.exec(line);
    if (m === null || line.startsWith('#')) continue;
    direct.add(m[1]!);
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(pair[1]!);
  }
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const unit = UNIT_SUFFIX[metric.descriptor.unit];
      let base = sanitize(metric.descriptor.name);
      if (unit !== undefined && !base.endsWith(`_${unit}`)) base = `${base}_${unit}`;
      if (metric.dataPointType === DataPointType.HISTOGRAM) {
        for (const s of ['_bucket', '_sum', '_count']) collector.add(base + s);
      } else if (metric.dataPointType === DataPointType.SUM && metric.isMonotonic) {
        collector.add(`${base}_total`);
      } else collector.add(base);
    }
  }
  await p.shutdown();
});

afterAll(async () => {
  unregister();
  metrics.disable();
  await provider.shutdown();
});

const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'rate',
  'increase',
  'irate',
  'histogram_quantile',
  'by',
  'without',
  'on',
  'ignoring',
  'and',
  'or',
  'unless',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'topk',
  'bottomk',
]);

/** Metric names and `__name__` regexes used by a PromQL expression, and the labels it names. */
export function metricsOf(expr: string): { names: string[]; patterns: RegExp[]; labels: string[] } {
  const patterns = [...expr.matchAll(/__name__\s*=~\s*"([^"]+)"/g)].map((m) => new RegExp(`^(?:${m[1]})$`));
  const used: string[] = [];
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g))
    used.push(...m[1]!.split(',').map((s) => s.trim()));
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const l of m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g))
      if (l[1] !== '__name__') used.push(l[1]!);
  }
  const stripped = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without)\s*\([^)]*\)/g, ' ')
    .replace(/"[^"]*"/g, ' ');
  const names = [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .map((m) => m[0])
    .filter((w) => !PROMQL_WORDS.has(w) && !/^\d/.test(w));
  return { names, patterns, labels: used.filter((l) => l !== '') };
}

function dashboardExprs(): string[] {
  const dash = JSON.parse(readFileSync(join(deployDir, 'grafana', 'dashboards', 'animus.json'), 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
  };
  return dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

function ruleExprs(): string[] {
  const text = readFileSync(join(deployDir, 'prometheus-rules.yml'), 'utf8');
  return [...text.matchAll(/^\s*expr:\s*(.+)$/gm)].map((m) => m[1]!.trim());
}

describe('dashboard and Prometheus rules name only metrics animus emits', () => {
  it('collects the real names (both scrape paths)', () => {
    expect([...direct].sort()).toEqual(
      expect.arrayContaining([
        'gen_ai_client_token_usage_bucket',
        'gen_ai_client_operation_duration_count',
        'animus_work_transitions_total',
        'animus_work_duration_bucket',
        'animus_queue_length',
        'animus_queue_oldest_message_age',
      ]),
    );
    // Every metric named in telemetry/names.ts was recorded above.
    for (const name of Object.values(MetricName)) {
      expect([...direct].some((d) => d.startsWith(sanitize(name)))).toBe(true);
    }
    expect(collector).toContain('animus_work_duration_seconds_bucket');
  });

  const cases: [string, string[]][] = [
    ['grafana dashboard', dashboardExprs()],
    ['prometheus rules', ruleExprs()],
  ];
  for (const [where, exprs] of cases) {
    it(`${where}: every metric and label exists`, () => {
      expect(exprs.length).toBeGreaterThan(0);
      for (const expr of exprs) {
        const { names, patterns, labels: used } = metricsOf(expr);
        expect(names.length + patterns.length, `no metric found in: ${expr}`).toBeGreaterThan(0);
        for (const n of names) {
          expect(
            direct.has(n) && collector.has(n),
            `${where}: '${n}' is not emitted on both paths (${expr})`,
          ).toBe(true);
        }
        for (const p of patterns) {
          expect(
            [...direct].some((d) => p.test(d)),
            `${where}: ${p} matches nothing on /metrics`,
          ).toBe(true);
          expect(
            [...collector].some((d) => p.test(d)),
            `${where}: ${p} matches nothing via the collector`,
          ).toBe(true);
        }
        for (const l of used)
          expect(labels.has(l), `${where}: label '${l}' is never emitted (${expr})`).toBe(true);
      }
    });
  }

  it('the checker itself catches a misspelt metric', () => {
    const { names, patterns } = metricsOf('sum by (le) (rate(animus_work_duraton_bucket[5m]))');
    expect(names).toEqual(['animus_work_duraton_bucket']);
    expect(patterns).toEqual([]);
    expect(direct.has('animus_work_duraton_bucket')).toBe(false);
  });
});
