// Work items: submit (structural dedup, provenance), claim, heartbeat, settle, cancel, retry
// and the reads. Every state change is one compare-and-set in SQL (the functions of
// migrations/0003); a change whose precondition fails is an IllegalTransitionError.
import type pg from 'pg';
import {
  IllegalTransitionError,
  NotFoundError,
  sqlState,
  SqlState,
  ValidationError,
} from '../errors/index.js';
import { type BackoffOptions, backoffSeconds } from './backoff.js';
import { type ClaimRow, toClaimed, toWorkItem, type WorkRow } from './rows.js';
import * as sql from './sql.js';
import type {
  ClaimedItem,
  Json,
  Queryable,
  SubmitItem,
  SubmitResult,
  WorkFilter,
  WorkItem,
  WorkState,
  WriteOptions,
} from './types.js';
import {
  type NormalisedItem,
  normaliseItem,
  strictJson,
  validateId,
  validateLimit,
  validateQueueName,
} from './validate.js';
import { noopWorkTracing, reportTransitions, type WorkTracing } from './tracing.js';

/** Options for {@link WorkItems}. */
export interface WorkItemsOptions {
  pool: pg.Pool;
  /** Largest accepted params, in bytes of JSON. Default 256 KiB. */
  maxParamsBytes?: number;
  /** Retry back-off. Defaults: 1 s base, 1 h cap, equal jitter. */
  backoff?: BackoffOptions;
  /** Telemetry hooks (PRODUCER spans, lifecycle events). Default: none. */
  tracing?: WorkTracing;
}

/** Options for {@link WorkItems.read}. */
export interface ReadOptions {
  /** Visibility timeout in seconds: how long the claim hides the item from others. Default 30. */
  vt?: number;
  /** How many items at most (1..1000). Default 1. */
  qty?: number;
}

/** Options for {@link WorkItems.fail}. */
export interface FailOptions extends WriteOptions {
  /** No retries: the item goes `dead` now. Default false. */
  permanent?: boolean;
  /** Override the back-off (seconds) for this retry. */
  backoffSeconds?: number;
}

/** Per-queue counts from {@link WorkItems.stats}. */
export interface QueueStats {
  queue: string;
  states: Partial<Record<WorkState, number>>;
  queueLength: number;
  visibleLength: number;
  oldestMessageAgeSeconds: number | null;
  totalMessages: number;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

/** The work types whose lifecycle changes `read` and `completeMany` report. */
const claimedType = (c: ClaimedItem): string => c.workType;
const entryType = (e: { item: { workType?: string } }): string | undefined => e.item.workType;

/** The work-item API (`animus.work`). */
export class WorkItems {
  readonly #pool: pg.Pool;
  readonly #maxParamsBytes: number;
  readonly #backoff: BackoffOptions;
  readonly #tracing: WorkTracing;
  #knownQueues = new Set<string>();

  constructor(options: WorkItemsOptions) {
    this.#pool = options.pool;
    this.#maxParamsBytes = options.maxParamsBytes ?? 256 * 1024;
    this.#backoff = options.backoff ?? {};
    this.#tracing = options.tracing ?? noopWorkTracing;
  }

  /** Creates a pgmq queue if it does not exist (idempotent). */
  async createQueue(name: string, options: WriteOptions = {}): Promise<void> {
    validateQueueName(name);
    await (options.tx ?? this.#pool).query(sql.CREATE_QUEUE, [name]);
    this.#knownQueues.add(name);
  }

  /** The queues pgmq knows. */
  async queues(): Promise<string[]> {
    const { rows } = await this.#pool.query<{ queue_name: string }>(sql.LIST_QUEUES);
    this.#knownQueues = new Set(rows.map((r) => r.queue_name));
    return [...this.#knownQueues].sort();
  }

  /** Throws naming the first unknown queue; asks pgmq only when the cache misses. */
  async #requireQueues(names: string[], db: Queryable, batch = false): Promise<void> {
    if (names.every((n) => this.#knownQueues.has(n))) return;
    const { rows } = await db.query<{ queue_name: string }>(sql.LIST_QUEUES);
    for (const r of rows) this.#knownQueues.add(r.queue_name);
    const i = names.findIndex((n) => !this.#knownQueues.has(n));
    if (i >= 0) {
      throw new ValidationError(
        batch ? `items[${i}].queue` : 'queue',
        `unknown queue '${names[i]}': create it first (animus.work.createQueue)`,
      );
    }
  }

  /** Submits one item: `queued` with its pgmq message, or `merged` into the active item of its key. */
  async submit(item: SubmitItem, options: WriteOptions = {}): Promise<SubmitResult> {
    const n = normaliseItem(item, this.#maxParamsBytes);
    const db = options.tx ?? this.#pool;
    await this.#requireQueues([n.queue], db);
    const span = this.#tracing.submit(n);
    try {
      const { rows } = await db.query<{
        item_id: string;
        status: string;
        msg_id: string | null;
        merged_into: string | null;
      }>(sql.SUBMIT, [
        n.queue,
        n.workType,
        n.dedupKey,
        n.source,
        n.triggerInfo,
        n.params,
        n.priority,
        n.maxAttempts,
        n.delaySeconds,
        n.delayUntil,
        n.parentId,
        JSON.stringify(span.headers),
      ]);
      const r = rows[0]!;
      const result: SubmitResult =
        r.status === 'queued'
          ? { status: 'queued', id: r.item_id, msgId: BigInt(r.msg_id!) }
          : { status: 'merged', id: r.item_id, mergedInto: r.merged_into! };
      span.end(result);
      return result;
    } catch (err) {
      span.fail(err);
      throw this.#classify(err, n);
    }
  }

  /** Submits many items in one round trip; results are in input order. */
  async submitBatch(items: SubmitItem[], options: WriteOptions = {}): Promise<SubmitResult[]> {
    if (!Array.isArray(items)) throw new ValidationError('items', 'must be an array');
    if (items.length === 0) return [];
    if (items.length > 10_000)
      throw new ValidationError('items', `has ${items.length} items, over 10000`, { limit: 10_000 });
    const ns = items.map((it, i) => normaliseItem(it, this.#maxParamsBytes, `items[${i}]`));
    const db = options.tx ?? this.#pool;
    await this.#requireQueues(
      ns.map((n) => n.queue),
      db,
      true,
    );
    const spans = ns.map((n) => this.#tracing.submit(n));
    try {
      const { rows } = await db.query<{
        ord: string;
        item_id: string;
        status: string;
        msg_id: string | null;
        merged_into: string | null;
      }>(sql.SUBMIT_BATCH, [
        ns.map((n) => n.queue),
        ns.map((n) => n.workType),
        ns.map((n) => n.dedupKey),
        ns.map((n) => n.source),
        ns.map((n) => n.triggerInfo),
        ns.map((n) => n.params),
        ns.map((n) => n.priority),
        ns.map((n) => n.maxAttempts),
        ns.map((n) => n.delaySeconds),
        ns.map((n) => n.delayUntil),
        ns.map((n) => n.parentId),
        spans.map((s) => JSON.stringify(s.headers)),
      ]);
      return rows.map((r, i) => {
        const result: SubmitResult =
          r.status === 'merged'
            ? { status: 'merged', id: r.item_id, mergedInto: r.merged_into! }
            : { status: 'queued', id: r.item_id, msgId: BigInt(r.msg_id!) };
        spans[i]?.end(result);
        return result;
      });
    } catch (err) {
      for (const s of spans) s.fail(err);
      throw this.#classify(err, ns[0]!);
    }
  }

  #classify(err: unknown, n: NormalisedItem): unknown {
    const state = sqlState(err);
    if (state === SqlState.undefinedTable) {
      this.#knownQueues.delete(n.queue);
      return new ValidationError('queue', `unknown queue '${n.queue}'`, { cause: err });
    }
    if (state === '23503')
      return new ValidationError('parentId', `no work item ${String(n.parentId)}`, { cause: err });
    return err;
  }

  /** Claims up to `qty` items from `queue`, hiding them for `vt` seconds. */
  async read(queue: string, options: ReadOptions = {}): Promise<ClaimedItem[]> {
    validateQueueName(queue);
    const vt = options.vt ?? 30;
    if (!Number.isInteger(vt) || vt < 0)
      throw new ValidationError('vt', `must be a whole number of seconds >= 0, got ${vt}`);
    const qty = validateLimit(options.qty ?? 1, 'qty');
    const { rows } = await this.#pool.query<ClaimRow>(sql.CLAIM, [queue, vt, qty]);
    const now = Date.now();
    const claimed = rows.map((r) => toClaimed(r, now));
    reportTransitions(this.#tracing, 'queued', 'running', claimed, claimedType);
    return claimed;
  }

  /** Extends a running item's visibility timeout to `vt` seconds from now. */
  async heartbeat(item: Pick<ClaimedItem, 'id' | 'attempts'>, vt = 30): Promise<void> {
    const { rows } = await this.#pool.query<{ ok: boolean }>(sql.HEARTBEAT, [item.id, item.attempts, vt]);
    if (rows.length === 0) await this.#illegal(item.id, 'running');
  }

  /** Settles a running item as completed (outcome and duration kept, message archived). */
  async complete(
    item: Pick<ClaimedItem, 'id' | 'attempts' | 'claimedAt'> & { workType?: string },
    outcome: Json = null,
    options: WriteOptions = {},
  ): Promise<void> {
    const done = await this.completeMany([{ item, outcome }], options);
    if (done.length === 0) await this.#illegal(item.id, 'completed');
  }

  /**
   * Completes many running items in one round trip. Returns the ids that were completed;
   * an item whose claim was lost (another worker has it now) is left out.
   */
  async completeMany(
    entries: Array<{
      item: Pick<ClaimedItem, 'id' | 'attempts' | 'claimedAt'> & { workType?: string };
      outcome?: Json;
    }>,
    options: WriteOptions = {},
  ): Promise<string[]> {
    if (entries.length === 0) return [];
    const now = Date.now();
    const outcomes = entries.map((e, i) => strictJson(e.outcome ?? null, `entries[${i}].outcome`));
    const { rows } = await (options.tx ?? this.#pool).query<{ item_id: string }>(sql.COMPLETE, [
      entries.map((e) => e.item.id),
      entries.map((e) => e.item.attempts),
      outcomes,
      entries.map((e) => Math.max(0, now - e.item.claimedAt)),
    ]);
    reportTransitions(this.#tracing, 'running', 'completed', entries, entryType);
    return rows.map((r) => r.item_id);
  }

  /**
   * Records a failed attempt: back to `queued` after a back-off while attempts remain, else
   * (or when `permanent`) `dead` with the error kept and the message archived.
   * Returns the new state.
   */
  async fail(
    item: Pick<ClaimedItem, 'id' | 'attempts'> & { workType?: string },
    error: unknown,
    options: FailOptions = {},
  ): Promise<'queued' | 'dead'> {
    const delay = options.backoffSeconds ?? backoffSeconds(item.attempts, this.#backoff);
    const { rows } = await (options.tx ?? this.#pool).query<{ new_state: 'queued' | 'dead' }>(sql.FAIL, [
      item.id,
      item.attempts,
      errorText(error).slice(0, 8000),
      options.permanent === true,
      Math.max(0, Math.round(delay)),
    ]);
    if (rows.length === 0) return this.#illegal(item.id, 'failed');
    const state = rows[0]!.new_state;
    if (item.workType !== undefined) this.#tracing.transition('running', state, item.workType);
    return state;
  }

  /** Cancels a queued item (its message is deleted). */
  async cancel(id: string, options: WriteOptions = {}): Promise<void> {
    validateId(id);
    const { rows } = await (options.tx ?? this.#pool).query(sql.CANCEL, [id]);
    if (rows.length === 0) await this.#illegal(id, 'cancelled');
  }

  /** Re-queues a dead or cancelled item with a fresh message and its attempts reset. */
  async retry(id: string): Promise<{ id: string; msgId: bigint }> {
    validateId(id);
    let msgId: bigint | undefined;
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ id: string; queue_name: string; work_type: string }>(
        sql.RETRY_RESET,
        [id],
      );
      const r = rows[0];
      if (r !== undefined) {
        const sent = await client.query<{ pgmq_msg_id: string }>(sql.RETRY_SEND, [
          id,
          r.queue_name,
          r.work_type,
          '{}',
        ]);
        msgId = BigInt(sent.rows[0]!.pgmq_msg_id);
      }
      await client.query(r === undefined ? 'ROLLBACK' : 'COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      if (sqlState(err) === SqlState.uniqueViolation) {
        throw new IllegalTransitionError(
          id,
          'dead',
          'queued (another item with the same dedup key is active)',
        );
      }
      throw err;
    } finally {
      // Released before any further query: the embedded database has a single connection.
      client.release();
    }
    if (msgId === undefined) return this.#illegal(id, 'queued');
    return { id, msgId };
  }

  async #illegal(id: string, to: string): Promise<never> {
    const { rows } = await this.#pool.query<{ state: string }>(sql.STATE_OF, [id]);
    throw new IllegalTransitionError(id, rows[0]?.state, to);
  }

  /** Archives a pgmq message by hand (kept in `a_<queue>`). */
  async archive(queue: string, msgId: bigint | number): Promise<boolean> {
    validateQueueName(queue);
    const { rows } = await this.#pool.query<{ ok: boolean }>(sql.ARCHIVE, [queue, String(msgId)]);
    return rows[0]?.ok === true;
  }

  /** Deletes a pgmq message by hand. */
  async delete(queue: string, msgId: bigint | number): Promise<boolean> {
    validateQueueName(queue);
    const { rows } = await this.#pool.query<{ ok: boolean }>(sql.DELETE, [queue, String(msgId)]);
    return rows[0]?.ok === true;
  }

  /** One item by id; throws NotFoundError. */
  async get(id: string): Promise<WorkItem> {
    validateId(id);
    const { rows } = await this.#pool.query<WorkRow>(sql.GET, [id]);
    if (rows[0] === undefined) throw new NotFoundError('work item', id);
    return toWorkItem(rows[0]);
  }

  /** Items matching a filter, newest first. */
  async list(filter: WorkFilter = {}): Promise<WorkItem[]> {
    const allowed = new Set(['state', 'workType', 'queue', 'source', 'limit', 'before']);
    for (const key of Object.keys(filter)) {
      if (!allowed.has(key)) throw new ValidationError(`filter.${key}`, 'is not a known filter');
    }
    const states =
      filter.state === undefined ? null : Array.isArray(filter.state) ? filter.state : [filter.state];
    const limit = validateLimit(filter.limit ?? 100, 'filter.limit');
    const { rows } = await this.#pool.query<WorkRow>(sql.LIST, [
      states,
      filter.workType ?? null,
      filter.queue ?? null,
      filter.source ?? null,
      filter.before ?? null,
      limit,
    ]);
    return rows.map(toWorkItem);
  }

  /** Items whose parent is `id`. */
  async children(id: string): Promise<WorkItem[]> {
    validateId(id);
    const { rows } = await this.#pool.query<WorkRow>(sql.CHILDREN, [id]);
    return rows.map(toWorkItem);
  }

  /** Submits merged into `id` (their provenance). */
  async merged(id: string): Promise<WorkItem[]> {
    validateId(id);
    const { rows } = await this.#pool.query<WorkRow>(sql.MERGED, [id]);
    return rows.map(toWorkItem);
  }

  /** pgmq's metrics for every queue (cheap: no scan of work_items). */
  async queueMetrics(): Promise<
    Array<{ queue: string; length: number; visibleLength: number; oldestAgeSeconds: number | null }>
  > {
    const { rows } = await this.#pool.query<{
      queue_name: string;
      queue_length: string;
      queue_visible_length: string;
      oldest_msg_age_sec: number | null;
    }>(sql.METRICS_ALL);
    return rows.map((m) => ({
      queue: m.queue_name,
      length: Number(m.queue_length),
      visibleLength: Number(m.queue_visible_length),
      oldestAgeSeconds: m.oldest_msg_age_sec === null ? null : Number(m.oldest_msg_age_sec),
    }));
  }

  /** Counts by queue and state, with pgmq's queue metrics. */
  async stats(): Promise<QueueStats[]> {
    const [counts, metrics] = await Promise.all([
      this.#pool.query<{ queue_name: string; state: WorkState; n: string }>(sql.STATS),
      this.#pool.query<{
        queue_name: string;
        queue_length: string;
        queue_visible_length: string;
        oldest_msg_age_sec: number | null;
        total_messages: string;
      }>(sql.METRICS_ALL),
    ]);
    const byQueue = new Map<string, QueueStats>();
    const entry = (q: string): QueueStats => {
      let s = byQueue.get(q);
      if (s === undefined) {
        s = {
          queue: q,
          states: {},
          queueLength: 0,
          visibleLength: 0,
          oldestMessageAgeSeconds: null,
          totalMessages: 0,
        };
        byQueue.set(q, s);
      }
      return s;
    };
    for (const m of metrics.rows) {
      const s = entry(m.queue_name);
      s.queueLength = Number(m.queue_length);
      s.visibleLength = Number(m.queue_visible_length);
      s.oldestMessageAgeSeconds = m.oldest_msg_age_sec === null ? null : Number(m.oldest_msg_age_sec);
      s.totalMessages = Number(m.total_messages);
    }
    for (const c of counts.rows) entry(c.queue_name).states[c.state] = Number(c.n);
    return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  }
}
