// animus as a benchmark system: submits through `animus.work.submit` / `submitBatch`, processes
// through `animus.worker` with a no-op handler. Only the public API is used; the worker shape
// of each row (concurrency, batchSize, completeBatchSize, listen) is in ANIMUS_SETTINGS.
import type { Animus } from '../../src/client.js';
import type { SubmitItem } from '../../src/work/types.js';
import type { WorkerOptions } from '../../src/worker/worker.js';
import type { QueueSystem, RunningWorker, WorkerMode } from './rows.mjs';

const STORED = `SELECT (params->>'i')::int AS i FROM work_items WHERE queue_name = $1 AND state <> 'merged'`;
const DISCARD_ITEMS = `DELETE FROM work_items WHERE queue_name = $1`;
const DISCARD_MESSAGES = `SELECT pgmq.purge_queue($1)`;
const UNSETTLED = `
SELECT (SELECT count(*) FROM work_items WHERE queue_name = $1 AND state <> 'completed')
     + (SELECT queue_length FROM pgmq.metrics($1)) AS n`;

/** Worker options per row shape (all on LISTEN wake-ups, the server default). */
export const ANIMUS_SETTINGS: Record<WorkerMode, Omit<WorkerOptions, 'handlers' | 'queue'>> = {
  // One item per handler call, each completed on its own; a read claims up to the free slots.
  single: { concurrency: 8, completeBatchSize: 1, listen: true },
  batched: { concurrency: 200, batchSize: 100, completeBatchSize: 100, listen: true },
  latency: { concurrency: 8, listen: true },
};

const item = (queue: string, i: number): SubmitItem => ({
  queue,
  workType: 'noop',
  source: 'bench',
  params: { i },
});

/**
 * The animus system over a started client (`name` labels the results; `settle` runs between a
 * processing row's prefill and its clock).
 */
export function animusSystem(animus: Animus, name = 'animus', settle?: () => Promise<void>): QueueSystem {
  return {
    name,
    ...(settle === undefined ? {} : { settle }),
    async prepare(queue) {
      await animus.work.createQueue(queue);
    },
    async submitOne(queue, i) {
      await animus.work.submit(item(queue, i));
    },
    async submitMany(queue, items) {
      await animus.work.submitBatch(items.map((i) => item(queue, i)));
    },
    async stored(queue) {
      const { rows } = await animus.pool.query<{ i: number }>(STORED, [queue]);
      return rows.map((r) => r.i);
    },
    async discard(queue) {
      await animus.pool.query(DISCARD_MESSAGES, [queue]);
      await animus.pool.query(DISCARD_ITEMS, [queue]);
    },
    async unsettled(queue) {
      const { rows } = await animus.pool.query<{ n: string }>(UNSETTLED, [queue]);
      return Number(rows[0]?.n ?? 0);
    },
    async startWorker(queue, mode, onStart): Promise<RunningWorker> {
      const settings = ANIMUS_SETTINGS[mode];
      const worker = animus.worker({
        queue,
        ...settings,
        handlers: {
          noop: (claimed) => {
            onStart((claimed.params as { i: number }).i);
          },
        },
      });
      await worker.start();
      return {
        settings: { ...settings },
        async stop() {
          await worker.stop({ timeoutMs: 10_000 });
        },
      };
    },
  };
}
