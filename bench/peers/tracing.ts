// The cost of tracing in the queue benchmark: animus with the OTel SDK exporting over OTLP/HTTP
// to a small local receiver, against animus with its telemetry off, rows alternated so both
// see the same machine load. The receiver only counts requests, bytes and spans.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Animus } from '../../src/client.js';
import { resolveConfig } from '../../src/config/index.js';
import { initTelemetry } from '../../src/telemetry/setup.js';
import { animusSystem } from './animus.js';
import { type RowConfig, type RowName, type RowResult, runRow } from './rows.mjs';

/** What the receiver saw. */
export interface ReceiverStats {
  requests: number;
  bytes: number;
  spans: number;
  /** Bytes of trace exports only, to compare with `spans`. */
  traceBytes: number;
  byPath: Record<string, number>;
  /** The start of the first trace export, to see what a span carries. */
  sample: string;
}

/** An OTLP/HTTP endpoint on 127.0.0.1:0 that accepts every POST with 200 and counts it. */
export async function startReceiver(): Promise<{
  url: string;
  stats: ReceiverStats;
  close(): Promise<void>;
}> {
  const stats: ReceiverStats = { requests: 0, bytes: 0, spans: 0, traceBytes: 0, byPath: {}, sample: '' };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      stats.requests++;
      stats.bytes += body.length;
      const path = req.url ?? '';
      stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
      if (path.endsWith('/v1/traces')) {
        // JSON encoding (the exporter's default here): count spans without keeping them.
        const text = body.toString('utf8');
        stats.spans += text.split('"spanId"').length - 1 - countLinks(text);
        stats.traceBytes += body.length;
        if (stats.sample === '') stats.sample = text.slice(0, 4000);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Span links also carry a "spanId"; they are not spans. */
function countLinks(text: string): number {
  let links = 0;
  for (const m of text.matchAll(/"links":\[(.*?)\]/g)) links += (m[1] ?? '').split('"spanId"').length - 1;
  return links;
}

/** Rows compared with tracing on and off. */
export const TRACING_ROWS: RowName[] = ['submit', 'processSingle', 'processBatched'];

/** Per row: the off and on rounds and the loss of throughput with tracing on. */
export interface TracingResult {
  rounds: number;
  receiver: ReceiverStats;
  exporter: string;
  rows: Record<
    string,
    { off: RowResult[]; on: RowResult[]; offPerSecond: number; onPerSecond: number; lossPercent: number }
  >;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Starts the SDK (this registers global OTel providers for the rest of the process, so it runs
 * last), then alternates off/on rounds of each row on fresh queues. The clients are started by
 * the caller beforehand (animus reads its telemetry providers lazily): `on` with telemetry,
 * `off` with `disableTelemetry`.
 */
export async function runTracingRows(
  clients: { on: Animus; off: Animus },
  cfg: RowConfig,
  rounds: number,
  log: (line: string) => void,
): Promise<TracingResult> {
  const receiver = await startReceiver();
  const config = resolveConfig({ telemetry: { otlpEndpoint: receiver.url } });
  // env {}: only the endpoint above decides what is exported, not the shell's OTEL_* variables.
  const telemetry = await initTelemetry(config, { env: {}, metricExportIntervalMs: 5000 });
  const { on, off } = clients;
  try {
    const rows: TracingResult['rows'] = {};
    for (const row of TRACING_ROWS) {
      const r = { off: [] as RowResult[], on: [] as RowResult[] };
      for (let k = 0; k < rounds; k++) {
        // off, on, on, off …: neither side always runs first.
        const order = k % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
        for (const side of order) {
          // Both sides flush before a processing row's clock starts: the prefill's PRODUCER spans
          // are the submit rows' cost, not the processing row's.
          const sys = animusSystem(side === 'on' ? on : off, `animus tracing ${side}`, () =>
            telemetry.forceFlush(),
          );
          const result = await runRow(sys, row, `t_${side}_${k}_${row.toLowerCase()}`, cfg);
          r[side].push(result);
          log(
            `tracing ${side} ${row} #${k}: ${String(result.perSecond)}/s exactlyOnce=${String(result.exactlyOnce)}`,
          );
        }
      }
      const offPerSecond = Math.round(mean(r.off.map((x) => Number(x.perSecond))));
      const onPerSecond = Math.round(mean(r.on.map((x) => Number(x.perSecond))));
      rows[row] = {
        ...r,
        offPerSecond,
        onPerSecond,
        lossPercent: Math.round((1 - onPerSecond / offPerSecond) * 1000) / 10,
      };
    }
    await telemetry.forceFlush();
    return {
      rounds,
      receiver: { ...receiver.stats, byPath: { ...receiver.stats.byPath } },
      exporter: 'OTLP/HTTP JSON (BatchSpanProcessor defaults) to a local receiver; metrics every 5 s',
      rows,
    };
  } finally {
    await telemetry.shutdown();
    await receiver.close();
  }
}
