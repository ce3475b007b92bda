// pgmq throughput on a Postgres server: send → read → archive cycles, one message per
// transaction at 1, 4 and 8 connections, and batched (100 messages per call) at 1 and 4.
// Runs against whichever pgmq the migrator installs in a scratch database (the extension
// where the server offers it, else animus's compatible schema; ANIMUS_BENCH_PGMQ=compat or
// extension forces one) and compares with the extension's reference figures on this machine.
// Where the server runs on this host it also reads the CPU time its backends spent per cycle
// (/proc/<pid>/stat): it leaves out waiting (for the disk, for locks, for a free CPU), so it
// moves less with what else the machine is doing than the rates do.
// Writes bench/results/pgmq.json and bench/results/pgmq.md.
//
//   npx tsx bench/pgmq.ts      (ANIMUS_BENCH_DATABASE_URL, default the local animus_test server;
//                               ANIMUS_BENCH_SECONDS per run, default 4; ANIMUS_BENCH_ROUNDS, default 3;
//                               ANIMUS_BENCH_SYNCHRONOUS_COMMIT=off to take the disk out of the picture)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate, type PgmqMode } from '../src/db/migrate.js';
import { pgmqInfo } from '../src/db/pgmq-info.js';

const SERVER = process.env.ANIMUS_BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/animus_test';
const SECONDS = Number(process.env.ANIMUS_BENCH_SECONDS || 4);
const ROUNDS = Number(process.env.ANIMUS_BENCH_ROUNDS || 3);
const WARMUP_SECONDS = 1;
const MODE = (process.env.ANIMUS_BENCH_PGMQ || 'auto') as PgmqMode;
const BATCH = 100;
/**
 * `off` runs every scenario with synchronous_commit=off: commits stop waiting for the disk, so
 * the CPU cost of the function layer shows. Results then go to pgmq-async-commit.{json,md}.
 */
const SYNC_COMMIT = process.env.ANIMUS_BENCH_SYNCHRONOUS_COMMIT === 'off' ? 'off' : 'on';
const OUTPUT = SYNC_COMMIT === 'on' ? 'pgmq' : 'pgmq-async-commit';

/** The extension's figures on this 2-core machine (issue 3), per scenario. */
const REFERENCE: Record<string, number> = {
  'single-1': 700,
  'single-4': 1400,
  'single-8': 1800,
  'batch-1': 20_000,
  'batch-4': 35_000,
};

/** How one cycle's statements are issued: through pgmq's functions, or as plain SQL. */
interface Statements {
  send: string;
  read: string;
  archiveOne: string;
  sendBatch: string;
  archiveMany: string;
}

const PGMQ: Statements = {
  send: 'SELECT * FROM pgmq.send($1, $2::jsonb)',
  read: 'SELECT msg_id FROM pgmq.read($1, 30, $2)',
  archiveOne: 'SELECT pgmq.archive($1, $2::bigint)',
  sendBatch: 'SELECT * FROM pgmq.send_batch($1, $2::jsonb[])',
  archiveMany: 'SELECT * FROM pgmq.archive($1, $2::bigint[])',
};

/**
 * The floor: the same work as plain statements on a queue's own tables (same layout and
 * indexes, created by pgmq.create), with no function call, name check or dynamic SQL. $1 is
 * unused but kept so both sets take the same parameters.
 */
function plainSql(queue: string): Statements {
  const q = `pgmq."q_${queue}"`;
  const a = `pgmq."a_${queue}"`;
  const cols = 'msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers';
  const move = (where: string) =>
    `WITH moved AS (DELETE FROM ${q} WHERE ${where} RETURNING ${cols}) ` +
    `INSERT INTO ${a} (${cols}) SELECT ${cols} FROM moved RETURNING msg_id`;
  return {
    send: `INSERT INTO ${q} (vt, message) SELECT clock_timestamp(), $2::jsonb WHERE $1::text IS NOT NULL RETURNING msg_id`,
    read:
      `WITH picked AS (SELECT msg_id FROM ${q} WHERE vt <= clock_timestamp() AND $1::text IS NOT NULL ` +
      `ORDER BY msg_id LIMIT $2 FOR UPDATE SKIP LOCKED) ` +
      `UPDATE ${q} AS m SET vt = clock_timestamp() + interval '30 seconds', read_ct = m.read_ct + 1, ` +
      `last_read_at = clock_timestamp() FROM picked WHERE m.msg_id = picked.msg_id RETURNING m.msg_id`,
    archiveOne: move('msg_id = $2::bigint AND $1::text IS NOT NULL'),
    sendBatch:
      `INSERT INTO ${q} (vt, message) SELECT clock_timestamp(), m FROM unnest($2::jsonb[]) AS m ` +
      `WHERE $1::text IS NOT NULL RETURNING msg_id`,
    archiveMany: move('msg_id = ANY ($2::bigint[]) AND $1::text IS NOT NULL'),
  };
}

interface Scenario {
  name: string;
  kind: 'single' | 'batch';
  connections: number;
}

interface Measured {
  /** Cycles (single) or messages (batch) per second, median of the rounds. */
  rate: number;
  rounds: number[];
  /**
   * Server CPU (user + system time of the connections' backends) per cycle (single) or per
   * message (batch) in microseconds, median of the rounds; null when the server is not on this
   * host.
   */
  serverCpuUs: number | null;
  serverCpuRounds: (number | null)[];
}

/** One timed run. */
interface Run {
  rate: number;
  serverCpuUs: number | null;
}

interface Result extends Scenario {
  unit: 'cycles/s' | 'messages/s';
  pgmq: Measured;
  plainSql: Measured;
  /** pgmq rate / plain SQL rate, measured side by side. */
  ratioToPlainSql: number;
  /** pgmq server CPU / plain SQL server CPU per unit of work (below 1: pgmq costs the server less). */
  cpuRatioToPlainSql: number | null;
  reference: number;
  /** pgmq rate / the extension's reference figure. */
  ratioToReference: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'single-1', kind: 'single', connections: 1 },
  { name: 'single-4', kind: 'single', connections: 4 },
  { name: 'single-8', kind: 'single', connections: 8 },
  { name: 'batch-1', kind: 'batch', connections: 1 },
  { name: 'batch-4', kind: 'batch', connections: 4 },
];

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Clock ticks per second for /proc/<pid>/stat times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of server backends, or null when they are not readable here. */
function backendCpuSeconds(pids: number[]): number | null {
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    // Fields after the parenthesised command name: state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

const body = (i: number) => JSON.stringify({ id: i, kind: 'bench', payload: 'x'.repeat(64) });

/** One worker's loop; returns messages archived before `stopAt`. */
async function worker(
  client: pg.ClientBase,
  sql: Statements,
  queue: string,
  kind: Scenario['kind'],
  stopAt: number,
): Promise<number> {
  let done = 0;
  let i = 0;
  const batch = Array.from({ length: BATCH }, (_, k) => body(k));
  while (Date.now() < stopAt) {
    if (kind === 'single') {
      await client.query(sql.send, [queue, body(i++)]);
      const { rows } = await client.query<{ msg_id: string }>(sql.read, [queue, 1]);
      for (const r of rows) {
        await client.query(sql.archiveOne, [queue, r.msg_id]);
        done += 1;
      }
    } else {
      await client.query(sql.sendBatch, [queue, batch]);
      const { rows } = await client.query<{ msg_id: string }>(sql.read, [queue, BATCH]);
      if (rows.length > 0) {
        await client.query(sql.archiveMany, [queue, rows.map((r) => r.msg_id)]);
        done += rows.length;
      }
    }
  }
  return done;
}

/** One timed run (after a warm-up) on a fresh queue: the rate and the server CPU per unit. */
async function runOnce(pool: pg.Pool, s: Scenario, target: 'pgmq' | 'plain', round: number): Promise<Run> {
  const queue = `bench_${target}_${s.name.replace('-', '_')}_${round}`;
  await pool.query('SELECT pgmq.create($1)', [queue]);
  const sql = target === 'pgmq' ? PGMQ : plainSql(queue);
  const clients = await Promise.all(Array.from({ length: s.connections }, () => pool.connect()));
  try {
    const pids = await Promise.all(
      clients.map(
        async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
      ),
    );
    const warm = Date.now() + WARMUP_SECONDS * 1000;
    await Promise.all(clients.map((c) => worker(c, sql, queue, s.kind, warm)));
    const cpuBefore = backendCpuSeconds(pids);
    const started = process.hrtime.bigint();
    const stopAt = Date.now() + SECONDS * 1000;
    const counts = await Promise.all(clients.map((c) => worker(c, sql, queue, s.kind, stopAt)));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpuAfter = backendCpuSeconds(pids);
    // Cycles (single) or messages (batch): each counts one archived message.
    const done = counts.reduce((a, b) => a + b, 0);
    return {
      rate: Math.round(done / seconds),
      serverCpuUs:
        cpuBefore === null || cpuAfter === null || done === 0
          ? null
          : Number((((cpuAfter - cpuBefore) * 1e6) / done).toFixed(1)),
    };
  } finally {
    for (const c of clients) c.release();
    await pool.query('SELECT pgmq.drop_queue($1)', [queue]);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measured(runs: Run[]): Measured {
  const cpu = runs.map((r) => r.serverCpuUs);
  const known = cpu.filter((x): x is number => x !== null);
  return {
    rate: median(runs.map((r) => r.rate)),
    rounds: runs.map((r) => r.rate),
    serverCpuUs: known.length === cpu.length && known.length > 0 ? median(known) : null,
    serverCpuRounds: cpu,
  };
}

/** Alternates pgmq and plain-SQL runs so machine load drifts over both alike. */
async function runScenario(pool: pg.Pool, s: Scenario): Promise<Result> {
  const viaPgmq: Run[] = [];
  const viaSql: Run[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order: ('pgmq' | 'plain')[] = round % 2 === 0 ? ['pgmq', 'plain'] : ['plain', 'pgmq'];
    for (const target of order) {
      (target === 'pgmq' ? viaPgmq : viaSql).push(await runOnce(pool, s, target, round));
    }
  }
  const pgmq = measured(viaPgmq);
  const plain = measured(viaSql);
  const rate = pgmq.rate;
  const reference = REFERENCE[s.name] ?? Number.NaN;
  return {
    ...s,
    unit: s.kind === 'single' ? 'cycles/s' : 'messages/s',
    pgmq,
    plainSql: plain,
    ratioToPlainSql: Number((rate / plain.rate).toFixed(2)),
    cpuRatioToPlainSql:
      pgmq.serverCpuUs === null || plain.serverCpuUs === null
        ? null
        : Number((pgmq.serverCpuUs / plain.serverCpuUs).toFixed(2)),
    reference,
    ratioToReference: Number((rate / reference).toFixed(2)),
  };
}

/** What one single-message statement cost in this run, against what the reference implies. */
function commitNote(results: Result[]): string[] {
  const one = results.find((r) => r.name === 'single-1');
  if (one === undefined) return [];
  const ms = (rate: number) => (1000 / (3 * rate)).toFixed(2);
  return [
    'At one connection a single cycle is three statements, each its own transaction. The plain-SQL rate',
    `implies ${ms(one.plainSql.rate)} ms per statement (round trip, execution, commit) in this run, against`,
    `${ms(one.reference)} ms implied by the reference figure. Where plain SQL itself falls short of the reference, the`,
    "machine's state (CPU load, disk flush time) sets the absolute rates for any code; the pgmq / plain SQL",
    'column is the comparison that carries across runs.',
    '',
  ];
}

function report(meta: Record<string, unknown>, results: Result[]): string {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const n = (x: number) => x.toLocaleString('en-US');
  return [
    '# pgmq benchmark',
    '',
    `${String(meta.pgmq)} on PostgreSQL ${String(meta.server)}, ${String(meta.cores)} cores, load average ` +
      `${String(meta.loadAverage)} at start, ${String(meta.loadAverageEnd)} at the end; ${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up, median of ` +
      `${ROUNDS} rounds, synchronous_commit=${SYNC_COMMIT} (${String(meta.date)}).`,
    '',
    'Single: each connection loops send → read(qty 1) → archive, one message per statement, each its own',
    `transaction. Batch: send_batch(${BATCH}) → read(qty ${BATCH}) → archive(ids[]). "Plain SQL" runs the same`,
    "statements directly on the queue's tables (no function, no name check, no dynamic SQL), alternating with",
    'the pgmq runs, so its ratio shows the cost of the function layer independent of machine load. The',
    "reference column is the extension's figure for this machine from issue 3. Plain SQL is parsed and planned",
    "on every call, as a client's unnamed statements are; animus's compatible schema keeps a plan per queue",
    'and session (migration 0005), so it can come out ahead.',
    '',
    ...commitNote(results),
    '| scenario | connections | pgmq | plain SQL | pgmq / plain SQL | extension reference | pgmq / reference |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.kind} | ${r.connections} | ${n(r.pgmq.rate)} ${r.unit} | ${n(r.plainSql.rate)} | ${pct(r.ratioToPlainSql)} | ` +
        `${n(r.reference)} | ${pct(r.ratioToReference)} |`,
    ),
    '',
    ...cpuTable(results),
  ].join('\n');
}

/** The server-CPU table, when the backends' CPU time could be read. */
function cpuTable(results: Result[]): string[] {
  if (results.some((r) => r.cpuRatioToPlainSql === null)) return [];
  return [
    "Server CPU: user + system time of the connections' backends (from /proc, the server being on this",
    'host) per cycle (single) or per message (batch), median of the rounds. It leaves out waiting (for the',
    'disk, for locks, for a free CPU), so it moves less with machine load than the rates, though contention',
    'still inflates it.',
    '',
    '| scenario | connections | pgmq µs | plain SQL µs | pgmq / plain SQL |',
    '|---|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.kind} | ${r.connections} | ${r.pgmq.serverCpuUs} | ${r.plainSql.serverCpuUs} | ` +
        `${Math.round(r.cpuRatioToPlainSql! * 100)}% |`,
    ),
    '',
  ];
}

async function main(): Promise<void> {
  const dbName = `animus_bench_pgmq_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const pool = new pg.Pool({
    connectionString: withDatabase(SERVER, dbName),
    max: 10,
    application_name: 'animus-bench',
  });
  try {
    await migrate(pool, { embeddingDimensions: 8, pgmq: MODE });
    const info = await pgmqInfo(pool);
    const { rows } = await pool.query<{ server_version: string }>('SHOW server_version');
    const meta = {
      date: new Date().toISOString(),
      loadAverage: loadavg()
        .map((x) => x.toFixed(2))
        .join(' '),
      server: rows[0]?.server_version,
      cores: cpus().length,
      pgmq: info.description,
      pgmqFlavour: info.flavour,
      pgmqVersion: info.version,
      synchronousCommit: SYNC_COMMIT,
      secondsPerRun: SECONDS,
      rounds: ROUNDS,
      batchSize: BATCH,
    };
    console.log(`pgmq benchmark: ${info.description}, PostgreSQL ${meta.server}, ${meta.cores} cores`);
    const results: Result[] = [];
    for (const s of SCENARIOS) {
      const r = await runScenario(pool, s);
      results.push(r);
      console.log(
        `${s.name.padEnd(9)} pgmq ${String(r.pgmq.rate).padStart(6)} ${r.unit}, plain SQL ${String(r.plainSql.rate).padStart(6)} ` +
          `(${Math.round(r.ratioToPlainSql * 100)}%), extension reference ${r.reference} (${Math.round(r.ratioToReference * 100)}%)` +
          (r.cpuRatioToPlainSql === null
            ? ''
            : `; server CPU ${r.pgmq.serverCpuUs} vs ${r.plainSql.serverCpuUs} µs (${Math.round(r.cpuRatioToPlainSql * 100)}%)`),
      );
    }
    const end = {
      loadAverageEnd: loadavg()
        .map((x) => x.toFixed(2))
        .join(' '),
    };
    const outDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(
      join(outDir, `${OUTPUT}.json`),
      `${JSON.stringify({ ...meta, ...end, results }, null, 2)}\n`,
    );
    writeFileSync(join(outDir, `${OUTPUT}.md`), report({ ...meta, ...end }, results));
  } finally {
    await pool.end();
    const drop = new pg.Client({ connectionString: SERVER });
    await drop.connect();
    await drop.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await drop.end();
  }
}

await main();
