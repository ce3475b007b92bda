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
  // One item per handler call; a read claims up to the free slots, and completions are settled
  // 8 per round trip (STRICT_SINGLE below settles each on its own, measured as an extra row).
  single: { concurrency: 8, completeBatchSize: 8, listen: true },
  batched: { concurrency: 1000, batchSize: 500, completeBatchSize: 500, listen: true },
  latency: { concurrency: 8, listen: true },
};

/** One-at-a-time with every completion its own commit (the extra row `processSingleStrict`). */
export const STRICT_SINGLE: Omit<WorkerOptions, 'handlers' | 'queue'> = {
  concurrency: 8,
  completeBatchSize: 1,
  listen: true,
};

const item = (queue: string, i: number): SubmitItem => ({
  queue,
  workType: 'noop',
  source: 'bench',
  params: { i },
});

/**
 * The animus system over a started client (`name` labels the results; `settle` runs between a
 * processing row's prefill and its clock; `overrides` replace ANIMUS_SETTINGS per mode).
 */
export function animusSystem(
  animus: Animus,
  name = 'animus',
  settle?: () => Promise<void>,
  overrides: Partial<Record<WorkerMode, Omit<WorkerOptions, 'handlers' | 'queue'>>> = {},
): QueueSystem {
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
      const settings = overrides[mode] ?? ANIMUS_SETTINGS[mode];
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
