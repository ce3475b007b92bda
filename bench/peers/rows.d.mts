// Types of rows.mjs (the shared measurement of the queue benchmark) for bench/queue.ts.

/** Sizes and shapes of the rows. */
export interface RowConfig {
  submitN: number;
  submitInFlight: number;
  batchN: number;
  batchSize: number;
  processN: number;
  processBatchedN: number;
  latencySamples: number;
  latencyWarmup: number;
  warmupN: number;
  timeoutMs: number;
}

/** Processing shapes a worker is started in. */
export type WorkerMode = 'single' | 'batched' | 'latency';

/** A running worker, with the settings it used (reported with the row). */
export interface RunningWorker {
  settings: Record<string, unknown>;
  stop(): Promise<void>;
}

/** What a system offers the benchmark. Items carry their number `i` in their payload. */
export interface QueueSystem {
  name: string;
  /** Makes `queue` exist and empty. */
  prepare(queue: string): Promise<void>;
  submitOne(queue: string, i: number): Promise<void>;
  submitMany(queue: string, items: number[]): Promise<void>;
  /** Item numbers stored in `queue` (one entry per stored item). */
  stored(queue: string): Promise<number[]>;
  /** Starts a worker calling `onStart(i)` when a handler starts on item i. */
  startWorker(queue: string, mode: WorkerMode, onStart: (i: number) => void): Promise<RunningWorker>;
  /** Removes everything stored for `queue` (after a submit row). */
  discard(queue: string): Promise<void>;
  /** Called after a processing row's prefill, before its clock starts (e.g. flush telemetry). */
  settle?(): Promise<void>;
  /** Items of `queue` not settled as completed. */
  unsettled(queue: string): Promise<number>;
}

/** One row's numbers (fields depend on the row). */
export type RowResult = Record<string, unknown> & { exactlyOnce: boolean };

export type RowName = 'submit' | 'submitBatch' | 'processSingle' | 'processBatched' | 'latency';

export const DEFAULTS: Readonly<RowConfig>;
export const ROWS: RowName[];
export function percentile(values: number[], p: number): number;
export function runRow(sys: QueueSystem, row: RowName, queue: string, cfg: RowConfig): Promise<RowResult>;
export function runAll(
  sys: QueueSystem,
  cfg: RowConfig,
  log?: (line: string) => void,
): Promise<Record<RowName, RowResult>>;

/** `stored`, `discard` and `unsettled` from three statements taking the queue name as $1. */
export function sqlBookkeeping(
  pool: { query(sql: string, params: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> },
  sql: { stored: string; discard: string; unsettled: string },
): Pick<QueueSystem, 'stored' | 'discard'> & { unsettled(queue: string): Promise<number> };
