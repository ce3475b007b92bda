// `npm run bench:async`: async resources (promises, timers, …) the process makes per item while
// a worker processes a prefilled queue in the queue benchmark's batched row (its own code and
// shape: no-op handler, concurrency 1000, claims and completions of 500), with telemetry off
// and on (the SDK exporting to a local receiver). Each one pays an async hook once an
// OpenTelemetry context manager's AsyncLocalStorage is in use, so their number is part of what
// tracing costs (README, Telemetry, "What it costs"). A count, not a timing: the same code
// gives the same figures on any machine. Writes bench/results/async-resources.json. Env:
// ANIMUS_BENCH_SERVER (default postgres://postgres@127.0.0.1:5432), ANIMUS_BENCH_ASYNC_ITEMS
// (default 20000).
import { createHook } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Animus } from '../src/client.js';
import { resolveConfig } from '../src/config/index.js';
import { initTelemetry } from '../src/telemetry/setup.js';
import { admin, url } from './lib/server.js';
import { animusSystem } from './peers/animus.js';
import { DEFAULTS, runRow } from './peers/rows.mjs';
import { startReceiver } from './peers/tracing.js';

const here = dirname(fileURLToPath(import.meta.url));
const DB = 'animus_bench_async';
const N = Number(process.env.ANIMUS_BENCH_ASYNC_ITEMS ?? 20_000);
if (!Number.isInteger(N) || N < 1000 || N % 1000 !== 0)
  throw new Error(`ANIMUS_BENCH_ASYNC_ITEMS: expected a whole multiple of 1000, got '${String(N)}'`);

/**
 * Async resources by type per item of a batched processing row (after a warm-up row), counted
 * from the end of the prefill (the row's `settle` step) to the end of the row.
 */
async function count(animus: Animus, side: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const hook = createHook({
    init(_id, type) {
      counts[type] = (counts[type] ?? 0) + 1;
    },
  });
  const cfg = { ...DEFAULTS, processBatchedN: N };
  await runRow(animusSystem(animus), 'processBatched', `async_${side}_warm`, cfg);
  const result = await runRow(
    animusSystem(animus, side, async () => {
      hook.enable();
    }),
    'processBatched',
    `async_${side}`,
    cfg,
  );
  hook.disable();
  if (result.exactlyOnce !== true) throw new Error(`bench:async: the ${side} row lost or repeated items`);
  return Object.fromEntries(
    Object.entries(counts)
      .filter(([, n]) => n / N >= 0.005)
      .map(([type, n]) => [type, Math.round((n / N) * 100) / 100]),
  );
}

async function main(): Promise<void> {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${DB}`);
  });
  const receiver = await startReceiver();
  try {
    const telemetry = await initTelemetry(resolveConfig({ telemetry: { otlpEndpoint: receiver.url } }), {
      env: {},
      metricExportIntervalMs: 5000,
    });
    const off = await new Animus({ databaseUrl: url(DB), poolMax: 20, disableTelemetry: true }).start();
    const on = await new Animus({ databaseUrl: url(DB), poolMax: 20, migrate: false }).start();
    let result: Record<string, unknown>;
    try {
      result = {
        date: new Date().toISOString(),
        commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim(),
        items: N,
        shape: 'the batched row: concurrency 1000, batchSize 500, completeBatchSize 500, no-op handler',
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
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`));
  }
}

await main();
