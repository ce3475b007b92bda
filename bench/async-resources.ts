// `npm run bench:async`: async resources (promises, timers, …) the process makes per item while
// a worker processes a prefilled queue in the queue benchmark's batched shape (no-op handler,
// concurrency 1000, claims and completions of 500), with telemetry off and on (the SDK
// exporting to a local receiver). Each one pays an async hook once an OpenTelemetry context
// manager's AsyncLocalStorage is in use, so their number is part of what tracing costs (README,
// Telemetry, "What it costs"). A count, not a timing: the same code gives the same figures on
// any machine. Writes bench/results/async-resources.json. Env: ANIMUS_BENCH_SERVER (default
// postgres://postgres@127.0.0.1:5432), ANIMUS_BENCH_ASYNC_ITEMS (default 20000).
import { createHook } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Animus } from '../src/client.js';
import { resolveConfig } from '../src/config/index.js';
import { initTelemetry } from '../src/telemetry/setup.js';
import { animusSystem } from './peers/animus.js';
import { startReceiver } from './peers/tracing.js';

const here = dirname(fileURLToPath(import.meta.url));
const SERVER = (process.env.ANIMUS_BENCH_SERVER || 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const DB = 'animus_bench_async';
const N = Number(process.env.ANIMUS_BENCH_ASYNC_ITEMS ?? 20_000);
if (!Number.isInteger(N) || N < 1000 || N % 1000 !== 0)
  throw new Error(`ANIMUS_BENCH_ASYNC_ITEMS: expected a whole multiple of 1000, got '${String(N)}'`);

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: `${SERVER}/postgres` });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Async resources by type made while `animus` processes N items (a warm-up run first). */
async function count(animus: Animus, side: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let counting = false;
  const hook = createHook({
    init(_id, type) {
      if (counting) counts[type] = (counts[type] ?? 0) + 1;
    },
  });
  for (const measured of [false, true]) {
    const queue = `async_${side}_${measured ? 'run' : 'warm'}`;
    const sys = animusSystem(animus);
    await sys.prepare(queue);
    for (let i = 0; i < N; i += 1000)
      await sys.submitMany(
        queue,
        Array.from({ length: 1000 }, (_, j) => i + j),
      );
    let handled = 0;
    let allDone!: () => void;
    const all = new Promise<void>((resolve) => (allDone = resolve));
    if (measured) {
      hook.enable();
      counting = true;
    }
    const worker = await sys.startWorker(queue, 'batched', () => {
      if (++handled === N) allDone();
    });
    await all;
    counting = false;
    hook.disable();
    await worker.stop();
    await sys.discard(queue);
  }
  return Object.fromEntries(
    Object.entries(counts)
      .filter(([, n]) => n / N >= 0.005)
      .map(([type, n]) => [type, Math.round((n / N) * 100) / 100]),
  );
}

async function main(): Promise<void> {
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${DB}`);
  const receiver = await startReceiver();
  try {
    const telemetry = await initTelemetry(resolveConfig({ telemetry: { otlpEndpoint: receiver.url } }), {
      env: {},
      metricExportIntervalMs: 5000,
    });
    const off = await new Animus({
      databaseUrl: `${SERVER}/${DB}`,
      poolMax: 20,
      disableTelemetry: true,
    }).start();
    const on = await new Animus({ databaseUrl: `${SERVER}/${DB}`, poolMax: 20, migrate: false }).start();
    let result: Record<string, unknown>;
    try {
      result = {
        date: new Date().toISOString(),
        commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim(),
        items: N,
        shape: 'batched: concurrency 1000, batchSize 500, completeBatchSize 500, no-op handler',
        perItem: { off: await count(off, 'off'), on: await count(on, 'on') },
      };
    } finally {
      await on.close();
      await off.close();
      await telemetry.shutdown();
    }
    writeFileSync(join(here, 'results', 'async-resources.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await receiver.close();
    await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  }
}

await main();
