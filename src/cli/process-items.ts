// Runs a worker in this process until given work items are settled: `memory import --wait`
// and the demo use it on the embedded database, where no other process can open the data
// directory while this one holds it.
import type { Animus } from '../client.js';
import type { WorkState } from '../work/types.js';
import type { WorkHandler } from '../worker/worker.js';

const SETTLED: ReadonlySet<WorkState> = new Set(['completed', 'dead', 'cancelled']);

/** Options for {@link processUntilSettled}. */
export interface ProcessOptions {
  queue: string;
  handlers: Record<string, WorkHandler>;
  /** Items to wait for. */
  ids: readonly string[];
  /** Called on every check, before looking at the items (e.g. to read finer progress). */
  onTick?: () => Promise<void>;
  /** Called when the number of settled items changes. */
  onSettled?: (settled: number, total: number) => void;
  /** Items processed at once. Default: the configured concurrency. */
  concurrency?: number;
  /** How often to look at the items' states, in ms. Default 100. */
  checkEveryMs?: number;
  /** Stop waiting when this aborts (SIGINT); the worker is still stopped cleanly. */
  signal?: AbortSignal;
}

/** Final states by id. */
export type SettledStates = Map<string, WorkState>;

/** Starts a worker, waits until every item is completed, dead or cancelled, stops the worker. */
export async function processUntilSettled(animus: Animus, options: ProcessOptions): Promise<SettledStates> {
  const worker = animus.worker({
    queue: options.queue,
    handlers: options.handlers,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  });
  const states: SettledStates = new Map();
  const pending = new Set(options.ids);
  await worker.start();
  try {
    let last = -1;
    while (pending.size > 0) {
      options.signal?.throwIfAborted();
      await options.onTick?.();
      for (const id of [...pending]) {
        const item = await animus.work.get(id);
        if (SETTLED.has(item.state)) {
          pending.delete(id);
          states.set(id, item.state);
        }
      }
      if (states.size !== last) {
        last = states.size;
        options.onSettled?.(states.size, options.ids.length);
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, options.checkEveryMs ?? 100));
    }
  } finally {
    await worker.stop({ timeoutMs: 5_000 });
  }
  return states;
}
