// The rows of the queue benchmark, measured the same way for every system (animus and raw
// pgmq in the tsx process, pg-boss and graphile-worker under Node 22): a system is an adapter
// of six calls, and every row checks exactly-once (each item stored or handled once, none lost).
// Plain JavaScript so Node 22 runs it without a loader; types in rows.d.mts.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';

/** Default sizes and shapes of the rows (environment overrides in bench/queue.ts). */
export const DEFAULTS = Object.freeze({
  submitN: 5_000,
  submitInFlight: 8,
  batchN: 20_000,
  batchSize: 1_000,
  processN: 5_000,
  processBatchedN: 20_000,
  latencySamples: 300,
  latencyWarmup: 20,
  warmupN: 500,
  timeoutMs: 180_000,
});

/** The p-th percentile (0..100), nearest rank. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

const round = (v, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * Counts the items 0..n-1 a handler started on. `start(i)` is cheap (a typed array), so it
 * adds nothing measurable to a no-op handler; waiters resolve on signals, not on timers.
 */
export class Tracker {
  constructor(n) {
    this.n = n;
    this.counts = new Uint32Array(n);
    this.total = 0;
    this.distinct = 0;
    this.stray = 0;
    this.lastAt = 0;
    this.itemWaiters = new Map();
    this.allWaiters = [];
  }

  start(i) {
    const now = performance.now();
    this.lastAt = now;
    if (!Number.isInteger(i) || i < 0 || i >= this.n) {
      this.stray++;
      return;
    }
    this.total++;
    if (++this.counts[i] === 1) this.distinct++;
    const w = this.itemWaiters.get(i);
    if (w !== undefined) {
      this.itemWaiters.delete(i);
      w(now);
    }
    if (this.distinct === this.n) for (const resolve of this.allWaiters.splice(0)) resolve(now);
  }

  /** Resolves with the time the handler started on item i. */
  whenItem(i, timeoutMs) {
    if (this.counts[i] > 0) return Promise.resolve(this.lastAt);
    return withTimeout(new Promise((resolve) => this.itemWaiters.set(i, resolve)), timeoutMs, `item ${i}`);
  }

  /** Resolves with the time the last distinct item was started. */
  whenAll(timeoutMs) {
    if (this.distinct === this.n) return Promise.resolve(this.lastAt);
    return withTimeout(
      new Promise((resolve) => this.allWaiters.push(resolve)),
      timeoutMs,
      `all ${this.n} items (saw ${this.distinct})`,
    );
  }

  result() {
    return {
      handled: this.total,
      lost: this.n - this.distinct,
      duplicated: this.total - this.distinct,
      stray: this.stray,
    };
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs fn(i) for i in [from, to) with k calls in flight. */
export async function inFlight(from, to, k, fn) {
  let next = from;
  const lane = async () => {
    while (next < to) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(k, to - from) }, lane));
}

/** Exactly-once over the item numbers a store holds after a submit row. */
function storedCheck(n, stored) {
  const seen = new Uint8Array(n);
  let distinct = 0;
  let stray = 0;
  for (const i of stored) {
    if (!Number.isInteger(i) || i < 0 || i >= n) stray++;
    else if (seen[i]++ === 0) distinct++;
  }
  return { stored: stored.length, lost: n - distinct, duplicated: stored.length - distinct - stray, stray };
}

const range = (from, to) => Array.from({ length: to - from }, (_, k) => from + k);

// Submit rows end by discarding what they stored, so the next row starts from an empty store
// (animus keeps every queue's items in one table, whose backlog a claim would otherwise see).

/** Submit, one call per item, `submitInFlight` calls in flight. */
async function submitRow(sys, queue, cfg) {
  const n = cfg.submitN;
  await sys.prepare(queue);
  const t0 = performance.now();
  await inFlight(0, n, cfg.submitInFlight, (i) => sys.submitOne(queue, i));
  const ms = performance.now() - t0;
  const check = storedCheck(n, await sys.stored(queue));
  await sys.discard(queue);
  return {
    n,
    inFlight: cfg.submitInFlight,
    elapsedMs: round(ms),
    perSecond: round((n / ms) * 1000, 0),
    ...check,
  };
}

/** Submit through the batch API, `batchSize` items per call, one call at a time. */
async function submitBatchRow(sys, queue, cfg) {
  const n = cfg.batchN;
  await sys.prepare(queue);
  const t0 = performance.now();
  for (let i = 0; i < n; i += cfg.batchSize)
    await sys.submitMany(queue, range(i, Math.min(n, i + cfg.batchSize)));
  const ms = performance.now() - t0;
  const check = storedCheck(n, await sys.stored(queue));
  await sys.discard(queue);
  return {
    n,
    batchSize: cfg.batchSize,
    elapsedMs: round(ms),
    perSecond: round((n / ms) * 1000, 0),
    ...check,
  };
}

/** Processing with a no-op handler over a prefilled queue: worker start to last item started. */
async function processRow(sys, queue, cfg, mode) {
  const n = mode === 'batched' ? cfg.processBatchedN : cfg.processN;
  await sys.prepare(queue);
  for (let i = 0; i < n; i += cfg.batchSize)
    await sys.submitMany(queue, range(i, Math.min(n, i + cfg.batchSize)));
  await sys.settle?.();
  const tracker = new Tracker(n);
  const t0 = performance.now();
  const worker = await sys.startWorker(queue, mode, (i) => tracker.start(i));
  let tEnd;
  try {
    tEnd = await tracker.whenAll(cfg.timeoutMs);
  } finally {
    await worker.stop();
  }
  const ms = tEnd - t0;
  const unsettled = await settled(sys, queue);
  return {
    n,
    settings: worker.settings,
    elapsedMs: round(ms),
    perSecond: round((n / ms) * 1000, 0),
    ...tracker.result(),
    unsettled,
  };
}

/** Submit → handler-start latency with an idle worker, one item at a time. */
async function latencyRow(sys, queue, cfg) {
  const warm = cfg.latencyWarmup;
  const n = warm + cfg.latencySamples;
  await sys.prepare(queue);
  const tracker = new Tracker(n);
  const worker = await sys.startWorker(queue, 'latency', (i) => tracker.start(i));
  const samples = [];
  try {
    for (let i = 0; i < n; i++) {
      const started = tracker.whenItem(i, 30_000);
      const t0 = performance.now();
      await sys.submitOne(queue, i);
      const t1 = await started;
      if (i >= warm) samples.push(t1 - t0);
    }
  } finally {
    await worker.stop();
  }
  const unsettled = await settled(sys, queue);
  return {
    n: samples.length,
    settings: worker.settings,
    p50Ms: round(percentile(samples, 50), 3),
    p95Ms: round(percentile(samples, 95), 3),
    p99Ms: round(percentile(samples, 99), 3),
    maxMs: round(Math.max(...samples), 3),
    ...tracker.result(),
    unsettled,
  };
}

/**
 * Items left unsettled once the worker has stopped. Some systems settle after their stop()
 * resolves (graphile-worker's completions), so a non-zero count is asked again for up to 5 s:
 * the store is the only signal there is. Returns the count, or the count at the end and at
 * the first look when they differ.
 */
async function settled(sys, queue) {
  const first = await sys.unsettled(queue);
  let n = first;
  for (let k = 0; n > 0 && k < 50; k++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    n = await sys.unsettled(queue);
  }
  return n === first ? n : { final: n, atStop: first };
}

const unsettledAtEnd = (u) => (typeof u === 'object' ? u.final : (u ?? 0));

/** The rows, in run order. */
/**
 * The bookkeeping reads every SQL-backed system shares: `stored`, `discard` and `unsettled`
 * from three statements that each take the queue name as $1.
 */
export function sqlBookkeeping(pool, sql) {
  return {
    async stored(queue) {
      const { rows } = await pool.query(sql.stored, [queue]);
      return rows.map((r) => r.i);
    },
    async discard(queue) {
      await pool.query(sql.discard, [queue]);
    },
    async unsettled(queue) {
      const { rows } = await pool.query(sql.unsettled, [queue]);
      return rows[0].n;
    },
  };
}

export const ROWS = ['submit', 'submitBatch', 'processSingle', 'processBatched', 'latency'];

/** Runs one row on a fresh queue named `queue`. */
export async function runRow(sys, row, queue, cfg) {
  const load = loadavg()[0];
  const started = performance.now();
  let result;
  if (row === 'submit') result = await submitRow(sys, queue, cfg);
  else if (row === 'submitBatch') result = await submitBatchRow(sys, queue, cfg);
  else if (row === 'processSingle') result = await processRow(sys, queue, cfg, 'single');
  else if (row === 'processBatched') result = await processRow(sys, queue, cfg, 'batched');
  else if (row === 'latency') result = await latencyRow(sys, queue, cfg);
  else throw new Error(`unknown row '${row}'`);
  const ok =
    result.lost === 0 &&
    result.duplicated === 0 &&
    result.stray === 0 &&
    unsettledAtEnd(result.unsettled) === 0;
  return {
    ...result,
    exactlyOnce: ok,
    loadAverage: round(load),
    wallMs: round(performance.now() - started, 0),
  };
}

/** Warms a system up (connections, plans, JIT) on throw-away queues, then runs every row. */
export async function runAll(sys, cfg, log = () => {}) {
  const warm = {
    ...cfg,
    submitN: cfg.warmupN,
    batchN: cfg.warmupN * 2,
    processN: cfg.warmupN,
    processBatchedN: cfg.warmupN * 2,
    latencySamples: 20,
  };
  // Queue names carry the system's name: animus and raw pgmq share one database.
  const prefix = sys.name.toLowerCase().replace(/[^a-z0-9]+/g, '_');
  for (const row of ROWS) await runRow(sys, row, `${prefix}_warm${snake(row)}`, warm);
  const results = {};
  for (const row of ROWS) {
    results[row] = await runRow(sys, row, `${prefix}${snake(row)}`, cfg);
    log(`${sys.name} ${row}: ${JSON.stringify(results[row])}`);
  }
  return results;
}

const snake = (s) => `_${s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
