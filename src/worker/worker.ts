// The worker runtime: claims items from one queue, runs their handlers with bounded
// concurrency, keeps long handlers visible with heartbeats, and settles each attempt.
// Wake-ups come from LISTEN on pgmq's insert notification where the database has it, with
// polling as the fallback. Stop is graceful: take nothing new, let in-flight work finish up
// to a timeout, then abort; unsettled items come back after their visibility timeout.
import pg from 'pg';
import { PermanentFailure } from '../errors/index.js';
import type { ClaimedItem, Json } from '../work/types.js';
import { validateQueueName } from '../work/validate.js';
import type { WorkItems } from '../work/work-items.js';

/** Minimal logger a handler receives. */
export interface WorkerLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** What a handler gets besides the item. */
export interface HandlerContext {
  /** Aborted when the worker stops past its timeout or the item's claim is lost. */
  readonly signal: AbortSignal;
  /** Extends the item's visibility timeout now (the runtime also does it on a timer). */
  heartbeat(vtSeconds?: number): Promise<void>;
  readonly logger: WorkerLogger;
}

/**
 * Processes one item. Return a JSON value to complete it (kept as outcome data); throw to
 * fail the attempt (retried with back-off), or throw {@link PermanentFailure} to fail it for good.
 */
export type WorkHandler = (item: ClaimedItem, ctx: HandlerContext) => Promise<Json | void> | Json | void;

/** Wraps one processing attempt (telemetry's CONSUMER span). */
export type ProcessHook = <T>(item: ClaimedItem, run: () => Promise<T>) => Promise<T>;

/** One processing attempt as an {@link AttemptHook} observes it. */
export interface AttemptScope {
  /** Calls `handler(item, ctx)` (inside the attempt's context) and returns what it returns. */
  run(handler: WorkHandler, item: ClaimedItem, ctx: HandlerContext): ReturnType<WorkHandler>;
  /** The handler returned (or its promise resolved). */
  completed(): void;
  /** The handler threw (or its promise rejected) `error`. */
  failed(error: unknown): void;
}

/**
 * Observes each processing attempt (telemetry's CONSUMER span) without a function of its own
 * around the handler: the worker calls `run`, then `completed` or `failed`. Cheaper per
 * attempt than a {@link ProcessHook}, which takes precedence when both are given. `batch` is
 * the read the item came with: the same array for every attempt the worker starts from one
 * read, all of them in one synchronous run and one active context, so a hook may work out what
 * they share once per batch.
 */
export type AttemptHook = (item: ClaimedItem, batch?: readonly ClaimedItem[]) => AttemptScope;

/** Options for a worker. */
export interface WorkerOptions {
  /** Queue to consume. Default `work`. */
  queue?: string;
  /** Handlers by work type. */
  handlers: Record<string, WorkHandler>;
  /** Items processed at once. Default 4. */
  concurrency?: number;
  /** Visibility timeout per claim, in seconds. Default 30. */
  vt?: number;
  /**
   * Heartbeat period in ms (>= 10): each item in flight is heartbeat every 3/4 to 1 period, by
   * one timer for the worker. Default: a third of `vt`, at least 100.
   */
  heartbeatMs?: number;
  /** Most items claimed per read. Default: the free slots (up to `concurrency`). */
  batchSize?: number;
  /** Settle completions in batches of up to this many (one round trip each). Default 1. */
  completeBatchSize?: number;
  /** Poll period when no notification arrives, in ms. Default 1000 with LISTEN, 200 without. */
  pollIntervalMs?: number;
  /** Use LISTEN/NOTIFY wake-ups (needs a server; not the embedded default). */
  listen?: boolean;
  /** How long `stop()` waits for in-flight handlers before aborting them, in ms. Default 30000. */
  stopTimeoutMs?: number;
  logger?: WorkerLogger;
  /** Wraps each attempt (telemetry, or your own). */
  process?: ProcessHook;
  /** Observes each attempt (animus's telemetry by default; see {@link AttemptHook}). */
  attempt?: AttemptHook;
}

/** Counters a worker keeps (for tests, benchmarks and /metrics). */
export interface WorkerStats {
  claimed: number;
  completed: number;
  failed: number;
  dead: number;
  lost: number;
  inFlight: number;
}

const silentLogger: WorkerLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Internal: what the worker needs from its database. */
export interface WorkerDeps {
  work: WorkItems;
  pool: pg.Pool;
}

/** An item being handled: what stops it, its end, and when it last heartbeat. */
interface InFlight {
  /** Made when the handler first reads `ctx.signal` (see {@link signalOf}). */
  controller: AbortController | undefined;
  /** Whether the handler was aborted, and why (the signal's reason). */
  aborted: boolean;
  reason: unknown;
  done: Promise<void>;
  /** `Date.now()` at the claim or the last heartbeat (automatic or the handler's own). */
  beatAt: number;
  /** The handler's `heartbeat` while the handler runs (see `#beatDue`). */
  beat: HandlerContext['heartbeat'] | undefined;
}

/** Ticks of the worker's heartbeat timer per heartbeat period (see `#beatDue`). */
const BEAT_TICKS = 4;

/** A settled promise: an item's `done` until its handling has started (see `#dispatch`). */
const DONE: Promise<void> = Promise.resolve();

/** Whether a handler's result is a promise (or any thenable) to wait for. */
function isThenable(value: unknown): value is PromiseLike<Json | void> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Aborts an item's handler: its signal now, or, when the handler has not read `ctx.signal` yet,
 * from the moment it does. The first reason stays, as with `AbortController.abort`.
 */
function abortFlight(flight: InFlight, reason: unknown): void {
  if (flight.aborted) return;
  flight.aborted = true;
  flight.reason = reason;
  flight.controller?.abort(reason);
}

/**
 * An item's abort signal, made on first use: a handler that never reads it costs no
 * AbortController (in Node 20 an AbortSignal kept alive while its item runs costs a few µs
 * of the collector's time each, about a fifth of a batched no-op item's main-thread time).
 */
function signalOf(flight: InFlight): AbortSignal {
  let controller = flight.controller;
  if (controller === undefined) {
    controller = flight.controller = new AbortController();
    if (flight.aborted) controller.abort(flight.reason);
  }
  return controller.signal;
}

/** What a handler gets: its signal is made when first read (see {@link signalOf}). */
class ItemContext implements HandlerContext {
  readonly #flight: InFlight;
  readonly heartbeat: HandlerContext['heartbeat'];
  readonly logger: WorkerLogger;

  constructor(flight: InFlight, heartbeat: HandlerContext['heartbeat'], logger: WorkerLogger) {
    this.#flight = flight;
    this.heartbeat = heartbeat;
    this.logger = logger;
  }

  get signal(): AbortSignal {
    return signalOf(this.#flight);
  }
}

/** A worker for one queue. Create with `animus.worker(options)`. */
export class Worker {
  readonly queue: string;
  readonly #deps: WorkerDeps;
  readonly #o: Required<
    Omit<WorkerOptions, 'queue' | 'logger' | 'process' | 'attempt' | 'heartbeatMs' | 'batchSize'>
  > & {
    heartbeatMs: number;
    batchSize: number;
  };
  readonly #log: WorkerLogger;
  readonly #process: ProcessHook | undefined;
  readonly #attempt: AttemptHook | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;
  #listener: pg.Client | undefined;
  readonly #inFlight = new Map<string, InFlight>();
  /** The worker's one heartbeat timer (see `#beatDue`), from `start()` to the end of `stop()`. */
  #beats: NodeJS.Timeout | undefined;
  #pendingComplete: Array<{ item: ClaimedItem; outcome: Json }> = [];
  #flushing: Promise<void> | undefined;
  readonly stats: WorkerStats = { claimed: 0, completed: 0, failed: 0, dead: 0, lost: 0, inFlight: 0 };

  constructor(deps: WorkerDeps, options: WorkerOptions) {
    this.#deps = deps;
    this.queue = validateQueueName(options.queue ?? 'work');
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be a whole number >= 1');
    const vt = options.vt ?? 30;
    const heartbeatMs = options.heartbeatMs ?? Math.max(100, (vt * 1000) / 3);
    if (typeof heartbeatMs !== 'number' || !Number.isFinite(heartbeatMs) || heartbeatMs < 10)
      throw new RangeError(`heartbeatMs must be a number of milliseconds >= 10, got ${String(heartbeatMs)}`);
    const listen = options.listen ?? false;
    this.#o = {
      handlers: options.handlers,
      concurrency,
      vt,
      heartbeatMs,
      batchSize: Math.min(options.batchSize ?? concurrency, 1000),
      completeBatchSize: options.completeBatchSize ?? 1,
      pollIntervalMs: options.pollIntervalMs ?? (listen ? 1000 : 200),
      listen,
      stopTimeoutMs: options.stopTimeoutMs ?? 30_000,
    };
    this.#log = options.logger ?? silentLogger;
    this.#process = options.process;
    this.#attempt = options.process === undefined ? options.attempt : undefined;
  }

  /** Whether the worker is taking work. */
  get running(): boolean {
    return this.#running;
  }

  /** Starts claiming work. Idempotent. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    if (this.#beats === undefined) {
      this.#beats = setInterval(() => this.#beatDue(), this.#o.heartbeatMs / BEAT_TICKS);
      this.#beats.unref();
    }
    if (this.#o.listen) await this.#startListening();
    this.#loop = this.#run();
  }

  async #startListening(): Promise<void> {
    const client = new pg.Client(this.#deps.pool.options);
    client.on('error', (err) =>
      this.#log.warn('worker listen connection failed; polling', { error: err.message }),
    );
    await client.connect();
    await client.query('SELECT pgmq.enable_notify_insert($1, 0)', [this.queue]);
    client.on('notification', () => this.#signal());
    // The channel name is pgmq's `pgmq.q_<queue>.INSERT` with the table name's lower case; the
    // queue name is validated above, so it cannot break out of the quotes.
    await client.query(`LISTEN "pgmq.q_${this.queue.toLowerCase()}.INSERT"`);
    this.#listener = client;
  }

  #signal(): void {
    this.#woken = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#woken = false;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let free = this.#o.concurrency - this.#inFlight.size;
      if (free <= 0) {
        await this.#sleep(this.#o.pollIntervalMs);
        continue;
      }
      const flushing = this.#flushing;
      if (flushing !== undefined && free < this.#o.batchSize) {
        // Completions are being settled: the slots they hold free together when that ends.
        // Claiming a few items at a time meanwhile only adds round trips (and, with a slow
        // settle, turned into reads of one item each).
        await flushing;
        continue;
      }
      if (free < this.#o.batchSize && this.#inFlight.size > 0) {
        // Woken by the first of several handlers finishing together (short handlers finish in
        // one burst): let the burst end before claiming, so one read fills the freed slots
        // instead of many reads of a few items each.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (!this.#running) break;
        free = this.#o.concurrency - this.#inFlight.size;
      }
      let items: ClaimedItem[] = [];
      try {
        this.#woken = false;
        items = await this.#deps.work.read(this.queue, {
          vt: this.#o.vt,
          qty: Math.min(free, this.#o.batchSize),
        });
      } catch (err) {
        if (!this.#running) break;
        this.#log.error('claiming work failed', { queue: this.queue, error: (err as Error).message });
        await this.#sleep(this.#o.pollIntervalMs);
        continue;
      }
      this.stats.claimed += items.length;
      for (const item of items) this.#dispatch(item, items);
      if (items.length === 0) {
        await this.#flushCompletions();
        await this.#sleep(this.#o.pollIntervalMs);
      }
    }
  }

  #dispatch(item: ClaimedItem, batch: readonly ClaimedItem[]): void {
    // In flight before its handler starts; `#handle` takes it out as it ends (in the function
    // itself rather than through `.finally()`: three promises fewer per item, each of which
    // pays an async hook once a context manager's AsyncLocalStorage is in use).
    const flight: InFlight = {
      controller: undefined,
      aborted: false,
      reason: undefined,
      done: DONE,
      beatAt: Date.now(),
      beat: undefined,
    };
    this.#inFlight.set(item.id, flight);
    this.stats.inFlight = this.#inFlight.size;
    flight.done = this.#handle(item, flight, batch) ?? DONE;
  }

  /**
   * Heartbeats every item whose last heartbeat is a period old, less one tick. One timer for
   * the worker instead of one per item: the timer ticks BEAT_TICKS times a period, so each
   * item is heartbeat every 3/4 to 1 period (never later than one per item would), and an item
   * that finishes within the period costs no timer at all (each timer is an async resource,
   * which pays a hook once a context manager is in use).
   */
  #beatDue(): void {
    const due = Date.now() - (this.#o.heartbeatMs * (BEAT_TICKS - 1)) / BEAT_TICKS;
    for (const flight of this.#inFlight.values()) if (flight.beatAt <= due) flight.beat?.().catch(() => {}); // a lost claim aborts the handler
  }

  /**
   * Handles one item. A promise only when something is left to wait for (a handler's promise,
   * a failure to record, a completion that waits for its batch); a handler that returns its
   * result is handled, and its item settled or added to the completion batch, in this call:
   * no promise at all for it (each pays an async hook once a context manager's
   * AsyncLocalStorage is in use). The item leaves the in-flight set when its handling ends.
   */
  #handle(item: ClaimedItem, flight: InFlight, batch: readonly ClaimedItem[]): Promise<void> | undefined {
    let rest: Promise<void> | undefined;
    try {
      rest = this.#begin(item, flight, batch);
    } catch (err) {
      // Not the handler's (#begin catches those): a fault of the worker's own.
      this.#release(item);
      return Promise.reject(err as Error);
    }
    if (rest === undefined) this.#release(item);
    return rest;
  }

  /**
   * Runs the item's handler and settles what it did: undefined when that is all done, else
   * what is left, which releases the item when it ends.
   */
  #begin(item: ClaimedItem, flight: InFlight, batch: readonly ClaimedItem[]): Promise<void> | undefined {
    const handler = this.#o.handlers[item.workType];
    if (handler === undefined) {
      const missing = new PermanentFailure(
        `no handler for work type '${item.workType}' on queue '${this.queue}'`,
      );
      return this.#released(item, this.#settleFailure(item, missing, true));
    }
    const heartbeat = async (vt = this.#o.vt) => {
      flight.beatAt = Date.now();
      try {
        await this.#deps.work.heartbeat(item, vt);
      } catch (err) {
        // The claim is gone (another worker has the item): stop working on it.
        this.stats.lost++;
        abortFlight(flight, err);
        throw err;
      }
    };
    flight.beat = heartbeat;
    const ctx: HandlerContext = new ItemContext(flight, heartbeat, this.#log);
    const wrap = this.#process;
    const attempt = this.#attempt?.(item, batch);
    let outcome: Json | void | PromiseLike<Json | void>;
    try {
      if (attempt !== undefined) outcome = attempt.run(handler, item, ctx);
      else if (wrap !== undefined) outcome = wrap(item, async () => await handler(item, ctx));
      else outcome = handler(item, ctx);
    } catch (err) {
      return this.#released(item, this.#afterThrow(item, flight, attempt, err));
    }
    if (isThenable(outcome)) return this.#awaitOutcome(item, flight, attempt, outcome);
    return this.#released(item, this.#afterReturn(item, flight, attempt, outcome));
  }

  /** A handler's promise: waited for, then as `#handle` (the item released at the end). */
  async #awaitOutcome(
    item: ClaimedItem,
    flight: InFlight,
    attempt: AttemptScope | undefined,
    pending: PromiseLike<Json | void>,
  ): Promise<void> {
    try {
      let outcome: Json | void;
      try {
        outcome = await pending;
      } catch (err) {
        await this.#afterThrow(item, flight, attempt, err);
        return;
      }
      await this.#afterReturn(item, flight, attempt, outcome);
    } finally {
      this.#release(item);
    }
  }

  /** After the handler returned: the attempt ends and the item is settled (or left, when stopped or lost). */
  #afterReturn(
    item: ClaimedItem,
    flight: InFlight,
    attempt: AttemptScope | undefined,
    outcome: Json | void,
  ): Promise<void> | undefined {
    attempt?.completed();
    flight.beat = undefined;
    if (flight.aborted) return undefined; // stopped or lost: leave it to come back
    return this.#settleSuccess(item, (outcome ?? null) as Json);
  }

  /** After the handler threw: the attempt ends and the failure is recorded (unless stopped or lost). */
  #afterThrow(
    item: ClaimedItem,
    flight: InFlight,
    attempt: AttemptScope | undefined,
    err: unknown,
  ): Promise<void> | undefined {
    attempt?.failed(err);
    flight.beat = undefined;
    if (flight.aborted) return undefined;
    return this.#settleFailure(item, err, err instanceof PermanentFailure);
  }

  /** What is left of `settling` (none when it is undefined); the item leaves the in-flight set at its end. */
  #released(item: ClaimedItem, settling: Promise<void> | undefined): Promise<void> | undefined {
    return settling === undefined ? undefined : this.#releaseAfter(item, settling);
  }

  async #releaseAfter(item: ClaimedItem, settling: Promise<void>): Promise<void> {
    try {
      await settling;
    } finally {
      this.#release(item);
    }
  }

  /** The item's handling ended: its slot is free. */
  #release(item: ClaimedItem): void {
    this.#inFlight.delete(item.id);
    this.stats.inFlight = this.#inFlight.size;
    this.#signal();
  }

  /**
   * Completes the item, or adds it to the pending batch; a promise only when there is something
   * to wait for (usually the item just joins the batch: no promise made).
   */
  #settleSuccess(item: ClaimedItem, outcome: Json): Promise<void> | undefined {
    if (this.#o.completeBatchSize <= 1) return this.#completeOne(item, outcome);
    this.#pendingComplete.push({ item, outcome });
    const pending = this.#pendingComplete.length;
    if (pending < this.#o.completeBatchSize) return undefined;
    // A full batch: settled now, or, while a flush is in progress, right after it (see the flush's
    // end) — the item waits only when two batches are pending, so slots free as handlers finish
    // instead of all at once after each flush.
    if (this.#flushing === undefined || pending >= 2 * this.#o.completeBatchSize)
      return this.#flushCompletions(false);
    return undefined;
  }

  async #completeOne(item: ClaimedItem, outcome: Json): Promise<void> {
    try {
      await this.#deps.work.complete(item, outcome);
      this.stats.completed++;
    } catch (err) {
      this.stats.lost++;
      this.#log.warn('could not complete item', { id: item.id, error: (err as Error).message });
    }
  }

  /**
   * Settles the pending completions in one round trip, after any flush in progress. With
   * `force` false (a full batch's trigger), only if a full batch is still pending then: an
   * earlier flush may have taken it, and the rest waits for the next full batch, an idle read
   * or the stop (a flush per waiting caller would shrink the batches to a few items each).
   */
  async #flushCompletions(force = true): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    const pending = this.#pendingComplete.length;
    if (pending === 0 || (!force && pending < this.#o.completeBatchSize)) return;
    const batch = this.#pendingComplete;
    this.#pendingComplete = [];
    this.#flushing = (async () => {
      try {
        const done = await this.#deps.work.completeMany(batch);
        this.stats.completed += done.length;
        this.stats.lost += batch.length - done.length;
      } catch (err) {
        this.#log.error('batch completion failed; items come back after their visibility timeout', {
          count: batch.length,
          error: (err as Error).message,
        });
      } finally {
        this.#flushing = undefined;
      }
      // A full batch gathered meanwhile goes out now (its items did not wait for it).
      if (this.#pendingComplete.length >= this.#o.completeBatchSize) void this.#flushCompletions(false);
    })();
    await this.#flushing;
  }

  async #settleFailure(item: ClaimedItem, err: unknown, permanent: boolean): Promise<void> {
    try {
      const state = await this.#deps.work.fail(item, err, { permanent });
      if (state === 'dead') this.stats.dead++;
      else this.stats.failed++;
    } catch (e) {
      this.stats.lost++;
      this.#log.warn('could not record failure', { id: item.id, error: (e as Error).message });
    }
  }

  /**
   * Stops taking work, waits for in-flight handlers up to `timeoutMs`, then aborts the rest
   * (their items return after the visibility timeout). Idempotent.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (!this.#running && this.#loop === undefined) return;
    this.#running = false;
    this.#signal();
    await this.#loop;
    this.#loop = undefined;
    const timeoutMs = options.timeoutMs ?? this.#o.stopTimeoutMs;
    const all = Promise.all([...this.#inFlight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const f of this.#inFlight.values()) abortFlight(f, new Error('worker stopped'));
      await all;
    }
    if (!this.#running) {
      // Unless start() was called again meanwhile: its items need the timer.
      clearInterval(this.#beats);
      this.#beats = undefined;
    }
    await this.#flushCompletions();
    if (this.#listener !== undefined) {
      const l = this.#listener;
      this.#listener = undefined;
      await l.end().catch(() => {});
    }
  }
}
