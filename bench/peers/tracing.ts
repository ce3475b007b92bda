// The cost of tracing in the queue benchmark: animus with the OTel SDK exporting over OTLP/HTTP
// to a local receiver, against animus with its telemetry off, rows alternated so both see the
// same machine load. The receiver (otlp-receiver.mjs) runs in its own process, as a collector
// would, and only counts requests, bytes and spans.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { context } from '@opentelemetry/api';
import type { ContextManager } from '@opentelemetry/api';
import type { Animus } from '../../src/client.js';
import { resolveConfig } from '../../src/config/index.js';
import { initTelemetry, otlpProtocol } from '../../src/telemetry/setup.js';
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
  contentTypes: Record<string, number>;
}

/** Starts otlp-receiver.mjs under this Node; `stats()` asks it for its counts. */
export async function startReceiver(): Promise<{
  url: string;
  stats(): Promise<ReceiverStats>;
  /** The receiver process's CPU time so far in µs (Linux), or undefined. */
  cpuUs(): number | undefined;
  close(): Promise<void>;
}> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'otlp-receiver.mjs');
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<{ resolve(line: string): void; reject(err: Error): void }> = [];
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  child.on('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`OTLP receiver exited (${String(code)})`));
  });
  const next = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
  const { url } = JSON.parse(await next()) as { url: string };
  return {
    url,
    cpuUs: () => (child.pid === undefined ? undefined : taskCpuUs(`/proc/${String(child.pid)}`)),
    async stats() {
      const line = next();
      child.stdin.write('stats\n');
      return JSON.parse(await line) as ReceiverStats;
    },
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

/** Rows compared with tracing on and off. */
export const TRACING_ROWS: RowName[] = ['submit', 'processSingle', 'processBatched'];

/** The rows to run: all, or those named in ANIMUS_BENCH_TRACING_ROWS (comma-separated). */
function tracingRows(): RowName[] {
  const named = process.env.ANIMUS_BENCH_TRACING_ROWS?.split(',').map((r) => r.trim());
  if (named === undefined || named.length === 0 || named[0] === '') return TRACING_ROWS;
  const unknown = named.filter((r) => !TRACING_ROWS.includes(r as RowName));
  if (unknown.length > 0)
    throw new Error(
      `ANIMUS_BENCH_TRACING_ROWS: unknown row(s) ${unknown.join(', ')}; rows: ${TRACING_ROWS.join(', ')}`,
    );
  return named as RowName[];
}

/**
 * One run of a row on one side, with this process's CPU time over the whole run and the main
 * thread's alone (the span export thread works beside it; Linux only, else undefined).
 */
export type TracingRun = RowResult & {
  cpuMs: number;
  cpuUsPerItem: number;
  mainCpuUsPerItem?: number;
  /** A processing row's main-thread CPU per item from the end of its prefill. */
  processingMainCpuUsPerItem?: number;
  /** The same for the whole process (export thread, GC and libuv threads included). */
  processingProcessCpuUsPerItem?: number;
  /** The same for the whole machine (Postgres, the receiver, everything else too). */
  processingMachineCpuUsPerItem?: number;
  /** The same for the OTLP receiver's process (the stand-in for a collector). */
  processingReceiverCpuUsPerItem?: number;
  /** The same for every Postgres process on the machine (backends and background workers). */
  processingPostgresCpuUsPerItem?: number;
  /** The machine's time in soft interrupts (loopback TCP among them), counted in no process. */
  processingSoftirqUsPerItem?: number;
};

/**
 * The whole machine's busy time and its time in soft interrupts, in µs, from one read of
 * /proc/stat (all cores), or undefined.
 */
function machineCpuUs(): { busy: number; softirq: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!;
    return { busy: busy * 10_000, softirq: cpu[6]! * 10_000 };
  } catch {
    return undefined;
  }
}

/** CPU time of this process (all threads) in µs. */
const processCpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** The name and the fields after it of a /proc `stat` file (fields[11] is utime), or undefined. */
function readStat(path: string): { comm: string; fields: string[] } | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    const close = stat.lastIndexOf(')');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') };
  } catch {
    return undefined; // not there, or ended meanwhile
  }
}

/** Clock ticks (10 ms) of /proc stat fields as µs. */
const ticksUs = (fields: string[], a: number, b: number): number =>
  (Number(fields[a]) + Number(fields[b])) * 10_000;

/**
 * CPU time in µs of the process or thread whose /proc directory is `dir` (Linux), or undefined:
 * the time its threads ran, from their schedstat files (nanoseconds: a run of a processing row
 * is a few hundred ms, in which stat's 10 ms ticks are 0.5 µs an item), else from its stat file.
 */
function taskCpuUs(dir: string): number | undefined {
  try {
    let tasks: string[];
    try {
      tasks = readdirSync(`${dir}/task`).map((t) => `${dir}/task/${t}`);
    } catch {
      tasks = [dir]; // a thread's own directory has no task list
    }
    let ns = 0;
    for (const task of tasks) {
      try {
        ns += Number(readFileSync(`${task}/schedstat`, 'utf8').split(' ', 1)[0]);
      } catch {
        // A thread that ended meanwhile.
      }
    }
    if (Number.isFinite(ns) && ns > 0) return ns / 1000;
  } catch {
    // No schedstat here: stat's ticks below.
  }
  const stat = readStat(`${dir}/stat`);
  return stat === undefined ? undefined : ticksUs(stat.fields, 11, 12);
}

/** CPU time of the main thread in µs (see {@link taskCpuUs}), or undefined. */
const mainThreadCpuUs = (): number | undefined => taskCpuUs(`/proc/self/task/${String(process.pid)}`);

/**
 * CPU time in µs of every process named `postgres` on the machine (Linux), or undefined: the
 * running ones' (see {@link taskCpuUs}) and, through the postmaster's times of its waited-for
 * children (stat's 10 ms ticks), the ones that have ended (a backend whose connection closed
 * between two readings would otherwise take its time out of the sum).
 */
function postgresCpuUs(): number | undefined {
  try {
    let total = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const stat = readStat(`/proc/${pid}/stat`);
      if (stat?.comm !== 'postgres') continue;
      // cutime and cstime (fields 13, 14): its ended children's.
      total += (taskCpuUs(`/proc/${pid}`) ?? 0) + ticksUs(stat.fields, 13, 14);
    }
    return total;
  } catch {
    return undefined;
  }
}

/** Per row: the off and on runs and the loss of throughput with tracing on. */
export interface TracingResult {
  date: string;
  commit: string;
  loadAverageStart: number[];
  loadAverageEnd: number[];
  rounds: number;
  /** How the spans left the process (protocol, batch processor settings, sampler). */
  exporter: string;
  receiver: ReceiverStats;
  /** Spans the `on` runs made (warm-up included) and how many of them the receiver never got. */
  spansExpected: number;
  spansDropped: number;
  rows: Record<
    string,
    {
      off: TracingRun[];
      on: TracingRun[];
      offPerSecond: number;
      onPerSecond: number;
      lossPercent: number;
      /** Per-pair losses (each on run against the off run next to it), to see the spread. */
      pairLossPercent: number[];
      /** Their median: less moved by one run that a neighbour's load slowed down. */
      medianPairLossPercent: number;
      offCpuUsPerItem: number;
      onCpuUsPerItem: number;
      /** Main thread only (without the span export thread). */
      offMainCpuUsPerItem?: number;
      onMainCpuUsPerItem?: number;
      /**
       * A processing row's CPU per item from the end of its prefill, by where it ran (means of
       * the runs, off and on; a part no run measured is left out): the main thread, the whole
       * process, the receiver, Postgres, soft interrupts and the whole machine.
       */
      processingCpuUsPerItem?: Partial<Record<ProcessingPart, { off: number; on: number }>>;
    }
  >;
}

/** Where a processing row's CPU is counted (see `TracingResult.rows[…].processingCpuUsPerItem`). */
export type ProcessingPart = 'main' | 'process' | 'receiver' | 'postgres' | 'softirq' | 'machine';

const PROCESSING_FIELDS: Record<ProcessingPart, keyof TracingRun> = {
  main: 'processingMainCpuUsPerItem',
  process: 'processingProcessCpuUsPerItem',
  receiver: 'processingReceiverCpuUsPerItem',
  postgres: 'processingPostgresCpuUsPerItem',
  softirq: 'processingSoftirqUsPerItem',
  machine: 'processingMachineCpuUsPerItem',
};

/** The means of the parts every run of both sides measured. */
function processingParts(
  off: TracingRun[],
  on: TracingRun[],
): Partial<Record<ProcessingPart, { off: number; on: number }>> | undefined {
  const parts: Partial<Record<ProcessingPart, { off: number; on: number }>> = {};
  for (const [part, field] of Object.entries(PROCESSING_FIELDS) as Array<
    [ProcessingPart, keyof TracingRun]
  >) {
    const values = (runs: TracingRun[]) => runs.map((r) => r[field]).filter((v) => typeof v === 'number');
    const a = values(off);
    const b = values(on);
    if (a.length === off.length && b.length === on.length && a.length > 0 && b.length > 0)
      parts[part] = { off: round1(mean(a)), on: round1(mean(b)) };
  }
  return Object.keys(parts).length === 0 ? undefined : parts;
}

/** Options of {@link runTracingRows}. */
export interface TracingOptions {
  rounds: number;
  /** `OTEL_EXPORTER_OTLP_PROTOCOL` for the SDK (default: animus's default, http/protobuf). */
  protocol?: string;
  commit: string;
  log: (line: string) => void;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const round1 = (x: number) => Math.round(x * 10) / 10;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : round1((s[m - 1]! + s[m]!) / 2);
};
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** Items a row handles (processing rows also submit them first: both sides' spans). */
function itemsOf(row: RowName, cfg: RowConfig): { items: number; spans: number } {
  if (row === 'submit') return { items: cfg.submitN, spans: cfg.submitN };
  const n = row === 'processBatched' ? cfg.processBatchedN : cfg.processN;
  return { items: n, spans: 2 * n };
}

/**
 * Starts the SDK (this registers global OTel providers for the rest of the process, so it runs
 * last), warms both sides up, then alternates off/on rounds of each row on fresh queues. The
 * clients are started by the caller beforehand (animus reads its telemetry providers lazily):
 * `on` with telemetry, `off` with `disableTelemetry`.
 */
export async function runTracingRows(
  clients: { on: Animus; off: Animus },
  cfg: RowConfig,
  options: TracingOptions,
): Promise<TracingResult> {
  const { rounds, log } = options;
  const loadAverageStart = load();
  const receiver = await startReceiver();
  const config = resolveConfig({ telemetry: { otlpEndpoint: receiver.url } });
  // Only the endpoint (and the protocol asked for) decide what is exported, not the shell's
  // OTEL_* variables.
  const env: Record<string, string> = {};
  if (options.protocol !== undefined) env.OTEL_EXPORTER_OTLP_PROTOCOL = options.protocol;
  // ANIMUS_BENCH_EXPORT_THREAD=0 encodes and sends on the main thread, for comparison.
  const exportThread = process.env.ANIMUS_BENCH_EXPORT_THREAD !== '0';
  // ANIMUS_BENCH_DIRECT=0 records work spans through the SDK tracer and histogram, for comparison.
  const directRecording = process.env.ANIMUS_BENCH_DIRECT !== '0';
  // ANIMUS_BENCH_THREAD_RECORDS=0 encodes lazy attempts on the main thread, for comparison.
  const threadRecords = process.env.ANIMUS_BENCH_THREAD_RECORDS !== '0';
  const telemetry = await initTelemetry(config, {
    env,
    metricExportIntervalMs: 5000,
    exportThread,
    directRecording,
    threadRecords,
  });
  // Every measured attempt takes the same path: the thread's encoder is loaded before the rows.
  const recordsOnThread = await telemetry.threadRecords;
  const protocol = otlpProtocol('traces', env);
  // The SDK reads its sampler from the process environment (OTEL_TRACES_SAMPLER[_ARG]).
  const sampler =
    process.env.OTEL_TRACES_SAMPLER === undefined
      ? undefined
      : `${process.env.OTEL_TRACES_SAMPLER} ${process.env.OTEL_TRACES_SAMPLER_ARG ?? ''}`.trim();
  const { on, off } = clients;
  let spansExpected = 0;
  // Autovacuum of work_items landing inside some runs and not others moved single runs by up
  // to 60 points (seen in runs of 2026-11-29): for these rows it is off, and the table is
  // vacuumed before every run instead, so each side starts from the same state. A checkpoint
  // follows, so that none is requested inside a run (a run writes tens of MB of WAL: the
  // server's log showed checkpoints requested by WAL volume during these rows, 2026-12-03).
  // ANIMUS_BENCH_CHECKPOINT=0 leaves it out (it needs a superuser or pg_checkpoint).
  await on.pool.query('ALTER TABLE work_items SET (autovacuum_enabled = off)');
  const freshTable = async () => {
    await on.pool.query('VACUUM (ANALYZE) work_items');
    if (process.env.ANIMUS_BENCH_CHECKPOINT !== '0') await on.pool.query('CHECKPOINT');
  };
  // The off side runs as a process without telemetry would: without the SDK's context manager,
  // whose AsyncLocalStorage, once used, makes every promise and timer of the process pay an
  // async hook (1.6 µs per batched item here). The manager is taken away for off runs and put
  // back for on runs.
  const contextManager = (
    context as unknown as { _getContextManager(): ContextManager }
  )._getContextManager();
  let contextSide: 'on' | 'off' = 'on';
  const contextFor = (side: 'on' | 'off') => {
    if (side === contextSide) return;
    if (side === 'off') context.disable();
    else if (!context.setGlobalContextManager(contextManager.enable()))
      throw new Error('tracing rows: could not put the context manager back');
    contextSide = side;
  };
  const run = async (side: 'on' | 'off', row: RowName, queue: string, c: RowConfig): Promise<TracingRun> => {
    contextFor(side);
    // Both sides flush before a processing row's clock starts: the prefill's PRODUCER spans
    // are the submit rows' cost, not the processing row's.
    // A processing row's main-thread CPU is also read from the end of its prefill on.
    let phaseMain0: number | undefined;
    let phaseProcess0: number | undefined;
    let phaseMachine0: ReturnType<typeof machineCpuUs>;
    let phaseReceiver0: number | undefined;
    let phasePostgres0: number | undefined;
    const sys = animusSystem(side === 'on' ? on : off, `animus tracing ${side}`, async () => {
      await telemetry.forceFlush();
      await freshTable();
      phaseMain0 = mainThreadCpuUs();
      phaseProcess0 = processCpuUs();
      phaseMachine0 = machineCpuUs();
      phaseReceiver0 = receiver.cpuUs();
      phasePostgres0 = postgresCpuUs();
    });
    if (row === 'submit') await freshTable();
    const main0 = mainThreadCpuUs();
    const cpu0 = process.cpuUsage();
    const result = await runRow(sys, row, queue, c);
    const cpu = process.cpuUsage(cpu0);
    const main1 = mainThreadCpuUs();
    const process1 = processCpuUs();
    const machine1 = machineCpuUs();
    const receiver1 = receiver.cpuUs();
    const postgres1 = postgresCpuUs();
    // The queue goes once measured: its table's dead rows would wait for autovacuum (landing in
    // some later run), and every metrics collection's pgmq.metrics_all() would scan them.
    await on.pool.query('SELECT pgmq.drop_queue($1)', [queue]);
    await on.pool.query('DELETE FROM work_items WHERE queue_name = $1', [queue]);
    const { items, spans } = itemsOf(row, c);
    if (side === 'on') spansExpected += spans;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    // Each measure per item between two readings, where both were made (a processing row's
    // from the end of its prefill; none of those for the submit row).
    const perItem: Partial<Record<keyof TracingRun, number>> = {};
    const measure = (key: keyof TracingRun, from: number | undefined, to: number | undefined) => {
      if (from !== undefined && to !== undefined) perItem[key] = round1((to - from) / items);
    };
    measure('mainCpuUsPerItem', main0, main1);
    measure('processingMainCpuUsPerItem', phaseMain0, main1);
    measure('processingProcessCpuUsPerItem', phaseProcess0, process1);
    measure('processingMachineCpuUsPerItem', phaseMachine0?.busy, machine1?.busy);
    measure('processingReceiverCpuUsPerItem', phaseReceiver0, receiver1);
    measure('processingPostgresCpuUsPerItem', phasePostgres0, postgres1);
    measure('processingSoftirqUsPerItem', phaseMachine0?.softirq, machine1?.softirq);
    return {
      ...result,
      cpuMs: Math.round(cpuMs),
      cpuUsPerItem: round1((cpuMs * 1000) / items),
      ...perItem,
    };
  };
  try {
    // Warm-up of both sides (JIT, connections, the SDK's first exports) on small queues.
    const warm = { ...cfg, submitN: cfg.warmupN, processN: cfg.warmupN, processBatchedN: cfg.warmupN * 2 };
    const rowsToRun = tracingRows();
    for (const row of rowsToRun)
      for (const side of ['off', 'on'] as const)
        await run(side, row, `t_${side}_warm_${row.toLowerCase()}`, warm);
    const rows: TracingResult['rows'] = {};
    for (const row of rowsToRun) {
      const r = { off: [] as TracingRun[], on: [] as TracingRun[] };
      // One full-size pair first, not counted: the first full-size run after another row's was
      // slow on either side (a third of the next ones' throughput in the batched row, in runs
      // of 2026-11-29), which made whichever side went first look worse.
      for (const side of ['off', 'on'] as const) {
        const result = await run(side, row, `t_${side}_settle_${row.toLowerCase()}`, cfg);
        log(`tracing ${side} ${row} (not counted): ${String(result.perSecond)}/s`);
      }
      for (let k = 0; k < rounds; k++) {
        // off, on, on, off …: neither side always runs first.
        const order = k % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
        for (const side of order) {
          const result = await run(side, row, `t_${side}_${k}_${row.toLowerCase()}`, cfg);
          r[side].push(result);
          log(
            `tracing ${side} ${row} #${k}: ${String(result.perSecond)}/s, ${result.cpuUsPerItem} µs CPU/item, ` +
              `load ${String(result.loadAverage)}, exactlyOnce=${String(result.exactlyOnce)}`,
          );
        }
      }
      const offPerSecond = Math.round(mean(r.off.map((x) => Number(x.perSecond))));
      const onPerSecond = Math.round(mean(r.on.map((x) => Number(x.perSecond))));
      rows[row] = {
        ...r,
        offPerSecond,
        onPerSecond,
        lossPercent: round1((1 - onPerSecond / offPerSecond) * 100),
        medianPairLossPercent: median(
          r.on.map((x, k) => round1((1 - Number(x.perSecond) / Number(r.off[k]!.perSecond)) * 100)),
        ),
        pairLossPercent: r.on.map((x, k) =>
          round1((1 - Number(x.perSecond) / Number(r.off[k]!.perSecond)) * 100),
        ),
        offCpuUsPerItem: round1(mean(r.off.map((x) => x.cpuUsPerItem))),
        onCpuUsPerItem: round1(mean(r.on.map((x) => x.cpuUsPerItem))),
        ...(r.on.some((x) => x.mainCpuUsPerItem === undefined) ||
        r.off.some((x) => x.mainCpuUsPerItem === undefined)
          ? {}
          : {
              offMainCpuUsPerItem: round1(mean(r.off.map((x) => x.mainCpuUsPerItem!))),
              onMainCpuUsPerItem: round1(mean(r.on.map((x) => x.mainCpuUsPerItem!))),
            }),
        ...(row === 'submit' ? {} : { processingCpuUsPerItem: processingParts(r.off, r.on) }),
      };
    }
    contextFor('on');
    await telemetry.forceFlush();
    const stats = await receiver.stats();
    return {
      date: new Date().toISOString(),
      commit: options.commit,
      loadAverageStart,
      loadAverageEnd: load(),
      rounds,
      exporter:
        `OTLP/HTTP ${protocol === 'http/json' ? 'JSON' : 'protobuf'} to a receiver in its own process ` +
        `(BatchSpanProcessor defaults, ${
          telemetry.directSpans
            ? `work spans recorded directly (attempts lazily, ${
                recordsOnThread ? 'encoded on the export thread from records' : 'encoded on the main thread'
              }; other work spans encoded on the main thread), other spans encoded on the export thread`
            : `encoded on ${exportThread ? 'the export thread' : 'the main thread'}`
        }, sent from ${exportThread ? 'the export thread' : 'the main thread'}, ` +
        `sampler ${sampler ?? 'default: parentbased_always_on'}); metrics every 5 s`,
      receiver: stats,
      spansExpected,
      // With a sampler from the environment fewer spans are expected: no count of drops then.
      spansDropped: sampler === undefined ? spansExpected - stats.spans : 0,
      rows,
    };
  } finally {
    contextFor('on');
    await on.pool.query('ALTER TABLE work_items RESET (autovacuum_enabled)').catch(() => {});
    await telemetry.shutdown();
    await receiver.close();
  }
}
