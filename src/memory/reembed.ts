// Re-embedding every memory with the configured model (`animus memory reembed`), also when
// the dimension changes. New vectors go to `embedding_next` batch by batch through the work
// queue (work type `memory.reembed`); progress lives in the rows, so an interrupted run
// resumes where it stopped. A final swap, under an exclusive lock, makes them `embedding`.
import type pg from 'pg';
import pgvector from 'pgvector';
import { PermanentFailure, ValidationError } from '../errors/index.js';
import type { MemoryStore } from './memory-store.js';
import * as SQL from './reembed-sql.js';

/** Work type of the re-embedding work item. */
export const REEMBED_WORK_TYPE = 'memory.reembed';

/** The model and dimension memories are being moved to. */
export interface ReembedTarget {
  dimensions: number;
  model: string;
}

/** Where a re-embedding stands. */
export interface ReembedPlan {
  /** Dimension of the stored `embedding` column. */
  storedDimensions: number;
  target: ReembedTarget;
  /** Memories in total. */
  total: number;
  /** Memories already re-embedded for this target. */
  done: number;
  /** Whether a re-embedding for this same target was started before (and can resume). */
  resuming: boolean;
}

/** What to submit to the work queue (the CLI passes it to the work module's submit). */
export interface ReembedSubmission {
  workType: typeof REEMBED_WORK_TYPE;
  /** One active re-embedding at a time. */
  dedupKey: string;
  params: ReembedTarget & { batchSize: number };
}

function checkTarget(target: ReembedTarget): ReembedTarget {
  if (!Number.isInteger(target.dimensions) || target.dimensions < 1 || target.dimensions > 16_000) {
    throw new ValidationError(
      'dimensions',
      `must be a whole number from 1 to 16000, got ${target.dimensions}`,
    );
  }
  if (typeof target.model !== 'string' || target.model === '') {
    throw new ValidationError('model', 'must name the embedding model');
  }
  return { dimensions: target.dimensions, model: target.model };
}

async function readTarget(db: pg.Pool | pg.PoolClient): Promise<ReembedTarget | undefined> {
  const { rows } = await db.query<{ value: string }>(SQL.READ_TARGET);
  return rows[0] === undefined ? undefined : (JSON.parse(rows[0].value) as ReembedTarget);
}

const sameTarget = (a: ReembedTarget | undefined, b: ReembedTarget): boolean =>
  a !== undefined && a.dimensions === b.dimensions && a.model === b.model;

/** Reports what a re-embedding to `target` would do (or how far it got). Writes nothing. */
export async function planReembed(pool: pg.Pool, target: ReembedTarget): Promise<ReembedPlan> {
  const t = checkTarget(target);
  const previous = await readTarget(pool);
  const resuming = sameTarget(previous, t);
  const { rows } = await pool.query<{ total: string; done: string; stored: string }>(SQL.PROGRESS);
  const r = rows[0]!;
  return {
    storedDimensions: Number(r.stored),
    target: t,
    total: Number(r.total),
    done: resuming ? Number(r.done) : 0,
    resuming,
  };
}

/**
 * Records `target` as the re-embedding in progress (clearing leftovers of a different
 * earlier target) and returns the work item to submit. Calling it again for the same
 * target keeps the progress made so far.
 */
export async function startReembed(
  pool: pg.Pool,
  target: ReembedTarget,
  options: { batchSize?: number } = {},
): Promise<ReembedSubmission> {
  const t = checkTarget(target);
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new ValidationError('batchSize', `must be a whole number from 1 to 10000, got ${batchSize}`);
  }
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(SQL.LOCK_SETTINGS);
    if (!sameTarget(await readTarget(client), t)) {
      await client.query(SQL.CLEAR_NEXT);
      await client.query(SQL.WRITE_TARGET, [JSON.stringify(t)]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  return { workType: REEMBED_WORK_TYPE, dedupKey: 'memories', params: { ...t, batchSize } };
}

/** The parts of a work item and handler context the re-embedding needs. */
export interface ReembedWorkItem {
  id: string;
  params: unknown;
}
export interface ReembedContext {
  signal: AbortSignal;
  heartbeat(): Promise<void>;
  logger?: { info(message: string, fields?: Record<string, unknown>): void };
}

/** Outcome of a finished re-embedding. */
export interface ReembedResult {
  reembedded: number;
  dimensions: number;
  model: string;
}

/**
 * The `memory.reembed` work handler: re-embeds pending memories in batches with the store's
 * (configured) embeddings, heartbeating after each, then swaps the columns. Stops early when
 * the signal aborts; the next attempt resumes from the rows still pending.
 */
export function reembedHandler(
  store: MemoryStore,
): (item: ReembedWorkItem, ctx: ReembedContext) => Promise<ReembedResult> {
  return async (item, ctx) => {
    const p = item.params as Partial<ReembedSubmission['params']> | null;
    if (
      p === null ||
      typeof p !== 'object' ||
      typeof p.dimensions !== 'number' ||
      typeof p.model !== 'string'
    ) {
      throw new PermanentFailure('memory.reembed: params must be { dimensions, model, batchSize }');
    }
    const target = checkTarget({ dimensions: p.dimensions, model: p.model });
    if (target.dimensions !== store.dimensions) {
      throw new PermanentFailure(
        `memory.reembed: this process embeds ${store.dimensions} dimensions, the item asks for ${target.dimensions}`,
      );
    }
    if (!sameTarget(await readTarget(store.pool), target)) {
      throw new PermanentFailure(
        'memory.reembed: superseded by a re-embedding to another target; start it again',
      );
    }
    const batchSize = p.batchSize ?? 256;
    let reembedded = 0;
    for (;;) {
      ctx.signal.throwIfAborted();
      const { rows } = await store.pool.query<{ id: string; content: string; hash: string }>(SQL.NEXT_BATCH, [
        batchSize,
      ]);
      if (rows.length === 0) {
        if (await finishReembed(store.pool, target)) break;
        continue; // rows changed under us before the lock: embed them first
      }
      const vectors = await store.embedTexts(rows.map((r) => r.content));
      await store.pool.query(SQL.SAVE_BATCH, [
        rows.map((r) => r.id),
        rows.map((r) => r.hash),
        vectors.map((v) => pgvector.toSql(v) as string),
      ]);
      reembedded += rows.length;
      ctx.logger?.info('memory.reembed progress', { reembedded });
      await ctx.heartbeat();
    }
    return { reembedded, ...target };
  };
}

/**
 * The swap: under an exclusive lock, when nothing is pending, `embedding_next` becomes
 * `embedding` (typed to the new dimension), the HNSW index is rebuilt and the stored
 * dimension updated. Returns false (changing nothing) when rows are still pending.
 */
export async function finishReembed(pool: pg.Pool, target: ReembedTarget): Promise<boolean> {
  const t = checkTarget(target);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(SQL.LOCK_MEMORIES);
    const { rows } = await client.query<{ pending: string }>(SQL.PENDING);
    if (Number(rows[0]!.pending) > 0) {
      await client.query('ROLLBACK');
      return false;
    }
    // The dimension is a checked integer: the only value interpolated here.
    await client.query(SQL.swapColumns(t.dimensions));
    await client.query(SQL.FINISH_SETTINGS, [String(t.dimensions)]);
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
