// The queue benchmark's short report (bench/results/queue.md): one table of rows × systems with
// the goal, whether animus met it and, where not, the reason measured for it.
import type { RowName, RowResult } from './rows.mjs';
import type { ProcessingPart, TracingResult } from './tracing.js';

/** One system's results as the report reads them. */
export interface SystemResults {
  system: string;
  version?: string;
  /** By row; animus also has `processSingleStrict`. */
  results?: Partial<Record<RowName | 'processSingleStrict', RowResult>>;
  error?: string;
}

interface Line {
  label: string;
  row: RowName | 'processSingleStrict';
  value: (r: RowResult) => number;
  unit: string;
  /** The goal for animus, and whether higher is better. */
  goal: number;
  higher: boolean;
  reference: string;
}

const LINES: Line[] = [
  {
    label: 'submit, one call per item, 8 in flight',
    row: 'submit',
    value: (r) => Number(r.perSecond),
    unit: '/s',
    goal: 2_400,
    higher: true,
    reference: 'pg-boss 2,400; graphile 940',
  },
  {
    label: 'submit, batch API (1,000 per call)',
    row: 'submitBatch',
    value: (r) => Number(r.perSecond),
    unit: '/s',
    goal: 50_000,
    higher: true,
    reference: 'pg-boss 47,000; graphile 70,000',
  },
  {
    label: 'processing, no-op, concurrency 8 one-at-a-time',
    row: 'processSingle',
    value: (r) => Number(r.perSecond),
    unit: '/s',
    goal: 3_400,
    higher: true,
    reference: 'pg-boss 9,600 (batch 10); graphile 3,400',
  },
  {
    label: 'processing, one-at-a-time, each completion its own commit (animus only)',
    row: 'processSingleStrict',
    value: (r) => Number(r.perSecond),
    unit: '/s',
    goal: Number.NaN,
    higher: true,
    reference: '',
  },
  {
    label: 'processing, no-op, batched',
    row: 'processBatched',
    value: (r) => Number(r.perSecond),
    unit: '/s',
    goal: 35_000,
    higher: true,
    reference: 'pg-boss 24,800 (batch 100); graphile 38,700',
  },
  {
    label: 'latency submit→handler start p50',
    row: 'latency',
    value: (r) => Number(r.p50Ms),
    unit: ' ms',
    goal: 1,
    higher: false,
    reference: 'pg-boss 2.5; graphile 0.7',
  },
  {
    label: 'latency p95',
    row: 'latency',
    value: (r) => Number(r.p95Ms),
    unit: ' ms',
    goal: Number.NaN,
    higher: false,
    reference: '',
  },
  {
    label: 'latency p99',
    row: 'latency',
    value: (r) => Number(r.p99Ms),
    unit: ' ms',
    goal: 3,
    higher: false,
    reference: 'graphile 1.6',
  },
];

const fmt = (v: number, unit: string) =>
  Number.isNaN(v) ? '—' : `${unit === '/s' ? Math.round(v).toLocaleString('en-US') : v.toFixed(2)}${unit}`;

function cell(s: SystemResults, line: Line): string {
  const r = s.results?.[line.row];
  if (r === undefined) return s.error === undefined ? '—' : 'failed';
  return `${fmt(line.value(r), line.unit)}${r.exactlyOnce ? '' : ' ✗'}`;
}

/** Renders the report; `notes` are the measured reasons, keyed by row. */
export function renderReport(
  meta: Record<string, unknown>,
  systems: SystemResults[],
  tracing: TracingResult | undefined,
  notes: Partial<Record<RowName | 'tracing', string>>,
): string {
  const animus = systems[0]!;
  const title =
    meta.proposedSql === true ? '# Queue benchmark — animus with the proposed SQL' : '# Queue benchmark';
  const out: string[] = [title, ''];
  out.push(
    `${String(meta.date)} · ${String(meta.cpus)} × ${String(meta.cpuModel)} · ${String(meta.postgres)} · ` +
      `Node ${String(meta.node)} (peers: Node ${String(meta.peerNode ?? '?')}) · load average at start ` +
      `${String(meta.loadAverageStart)}, at end ${String(meta.loadAverageEnd)} · animus at ` +
      `${String((meta.code as { commit?: string } | undefined)?.commit ?? '?')}.`,
    '',
    'Default durability (synchronous_commit on). Each row on a fresh queue after a warm-up; ✗ marks a',
    "row that lost or duplicated an item. The reference column is the peers' figures from issue 4.",
    '',
  );
  out.push(
    `| row | ${systems.map((s) => `${s.system}${s.version ? ` ${s.version}` : ''}`).join(' | ')} | goal (animus) | met | reference |`,
  );
  out.push(`|---|${systems.map(() => '---:').join('|')}|---:|:---:|---|`);
  for (const line of LINES) {
    const r = animus.results?.[line.row];
    const v = r === undefined ? Number.NaN : line.value(r);
    const met = Number.isNaN(line.goal)
      ? ''
      : Number.isNaN(v)
        ? '?'
        : (line.higher ? v >= line.goal : v <= line.goal)
          ? 'yes'
          : 'no';
    const goal = Number.isNaN(line.goal) ? '' : `${line.higher ? '≥' : '≤'} ${fmt(line.goal, line.unit)}`;
    out.push(
      `| ${line.label} | ${systems.map((s) => cell(s, line)).join(' | ')} | ${goal} | ${met} | ${line.reference} |`,
    );
  }
  const eo = systems.map((s) => {
    const rs = Object.values(s.results ?? {});
    if (rs.length === 0) return '—';
    const lost = rs.reduce((a, r) => a + Number(r.lost ?? 0), 0);
    const dup = rs.reduce((a, r) => a + Number(r.duplicated ?? 0), 0);
    return `${lost} lost, ${dup} dup`;
  });
  const animusEo = eo[0] === '0 lost, 0 dup' ? 'yes' : 'no';
  out.push(`| exactly-once over all rows | ${eo.join(' | ')} | 0 lost, 0 dup | ${animusEo} | |`);
  out.push('');
  for (const s of systems) if (s.error !== undefined) out.push(`- **${s.system} failed:** ${s.error}`);
  if (meta.tracingError !== undefined)
    out.push(`- **tracing rows failed:** ${String(meta.tracingError)}`, '');
  if (tracing !== undefined) {
    out.push('## Tracing cost (animus, OTLP/HTTP to a local receiver vs telemetry off)', '');
    if (tracing.date !== undefined)
      out.push(
        `${tracing.date} · animus at ${tracing.commit} · load average at start ` +
          `${String(tracing.loadAverageStart)}, at end ${String(tracing.loadAverageEnd)}.`,
        '',
      );
    out.push(
      `${tracing.rounds} alternating rounds per side after a small warm-up of each row and one full-size pair not counted ` +
        "(work_items vacuumed and a checkpoint taken before every run, its autovacuum off; the off side runs without the SDK's context " +
        'manager, as a process without telemetry would); goal < 10% throughput loss. ' +
        'CPU is this process per item over the whole run (a processing row submits its items first); ' +
        'main thread is that CPU without the span export thread; for processing rows also from the end of the ' +
        'prefill on (the processing alone).',
      '',
    );
    out.push(
      '| row | off | on | loss | met | loss per pair (median) | CPU/item off | CPU/item on | main thread off → on | processing alone: main thread off → on |',
      '|---|---:|---:|---:|:---:|---|---:|---:|---:|---:|',
    );
    for (const [row, r] of Object.entries(tracing.rows)) {
      const cpu = (v: number | undefined) => (v === undefined ? '—' : `${v} µs`);
      const processingMain = r.processingCpuUsPerItem?.main;
      out.push(
        `| ${row} | ${fmt(r.offPerSecond, '/s')} | ${fmt(r.onPerSecond, '/s')} | ${r.lossPercent}% | ` +
          `${r.lossPercent < 10 ? 'yes' : 'no'} | ${(r.pairLossPercent ?? []).map((x) => `${x}%`).join(', ')}` +
          `${r.medianPairLossPercent === undefined ? '' : ` (${r.medianPairLossPercent}%)`} | ` +
          `${cpu(r.offCpuUsPerItem)} | ${cpu(r.onCpuUsPerItem)} | ` +
          `${r.onMainCpuUsPerItem === undefined ? '—' : `${r.offMainCpuUsPerItem} → ${r.onMainCpuUsPerItem} µs`} | ` +
          `${processingMain === undefined ? '—' : `${processingMain.off} → ${processingMain.on} µs`} |`,
      );
    }
    const parts = Object.entries(tracing.rows).filter(([, r]) => r.processingCpuUsPerItem !== undefined);
    if (parts.length > 0) {
      const names: Array<[ProcessingPart, string]> = [
        ['main', 'main thread'],
        ['process', 'whole process'],
        ['receiver', 'receiver'],
        ['postgres', 'Postgres'],
        ['softirq', 'soft interrupts'],
        ['machine', 'whole machine'],
      ];
      out.push(
        '',
        "Processing rows' CPU per item from the end of the prefill, by where it ran (off → on; threads' " +
          "and processes' run time from /proc schedstat, soft interrupts and the whole machine from /proc/stat):",
        '',
        `| row | ${names.map(([, n]) => n).join(' | ')} |`,
        `|---|${names.map(() => '---:').join('|')}|`,
      );
      for (const [row, r] of parts) {
        const p = r.processingCpuUsPerItem ?? {};
        out.push(
          `| ${row} | ${names
            .map(([k]) => {
              const v = p[k];
              return v === undefined ? '—' : `${v.off} → ${v.on} µs`;
            })
            .join(' | ')} |`,
        );
      }
    }
    const rx = tracing.receiver;
    out.push(
      '',
      `Exporter: ${tracing.exporter}. Receiver: ${rx.requests} requests, ${(rx.bytes / 1e6).toFixed(1)} MB, ` +
        `${rx.spans} spans` +
        (tracing.spansExpected === undefined
          ? '.'
          : ` of ${tracing.spansExpected} made (${tracing.spansDropped ?? 0} dropped).`),
      '',
    );
  }
  const noted = Object.entries(notes).filter(([, v]) => v !== undefined && v !== '');
  if (noted.length > 0) {
    out.push('## Where animus falls short, and why', '');
    for (const [row, note] of noted) out.push(`- **${row}**: ${note}`);
    out.push('');
  }
  out.push(
    'Settings of every row and system are in queue.json; how to run: README.md ("Queue benchmark").',
    '',
  );
  return out.join('\n');
}
