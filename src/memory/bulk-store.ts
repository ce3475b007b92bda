// The bulk, idempotent store: look up which (content, type, source) identities exist,
// embed only the new ones (before any write), insert them in chunks inside one transaction
// (the caller's or our own), and report { id, created } per entry in input order. Vectors
// travel in pgvector's binary format (vector-wire.ts).
import type pg from 'pg';
import { contentHash, identityKey } from './rows.js';
import * as SQL from './sql.js';
import type { Queryable, StoredMemory } from './types.js';
import type { CheckedEntry } from './validate.js';
import { type VectorOid, vectorArrayParam } from './vector-wire.js';

/** What the bulk store needs from its MemoryStore. */
export interface StoreDeps {
  pool: pg.Pool;
  insertChunk: number;
  vectorOid: VectorOid;
  embedTexts(texts: string[]): Promise<number[][]>;
}

/** Stores checked entries; see the module comment. */
export async function storeEntries(
  deps: StoreDeps,
  checked: CheckedEntry[],
  tx: Queryable | undefined,
): Promise<StoredMemory[]> {
  const hashes = checked.map((e) => contentHash(e.content));
  const keys = checked.map((e, i) => identityKey(hashes[i]!, e.memoryType, e.source));
  // Distinct identities, first occurrence wins.
  const firstOf = new Map<string, number>();
  keys.forEach((k, i) => {
    if (!firstOf.has(k)) firstOf.set(k, i);
  });
  const unique = [...firstOf.values()];
  const db = tx ?? deps.pool;
  const existing = new Map<string, string>();
  // Looking up stored identities first saves embedding them again. When every entry brings
  // its embedding there is nothing to save: the insert skips stored identities anyway and
  // the ones it skipped are looked up after it (≈ 15 µs a memory less).
  if (unique.some((i) => checked[i]!.embedding === undefined)) {
    const found = await db.query<{ id: string; ord: number }>(SQL.FIND_EXISTING, [
      unique.map((i) => hashes[i]),
      unique.map((i) => checked[i]!.memoryType),
      unique.map((i) => checked[i]!.source),
    ]);
    for (const r of found.rows) existing.set(keys[unique[r.ord - 1]!]!, r.id);
  }
  const todo = unique.filter((i) => !existing.has(keys[i]!));
  const needEmbedding = todo.filter((i) => checked[i]!.embedding === undefined);
  const computed = await deps.embedTexts(needEmbedding.map((i) => checked[i]!.content));
  const vectors = new Map<number, number[]>();
  needEmbedding.forEach((i, j) => vectors.set(i, computed[j]!));

  const created = new Map<string, string>();
  const insert = async (q: Queryable): Promise<void> => {
    const oid = await deps.vectorOid.get(q);
    for (let at = 0; at < todo.length; at += deps.insertChunk) {
      const chunk = todo.slice(at, at + deps.insertChunk);
      const { rows } = await q.query<{
        id: string;
        hash: string;
        memory_type: string;
        source: string | null;
      }>(SQL.INSERT_MEMORIES, [
        chunk.map((i) => checked[i]!.content),
        chunk.map((i) => checked[i]!.memoryType),
        chunk.map((i) => checked[i]!.source),
        chunk.map((i) => JSON.stringify(checked[i]!.metadata)),
        chunk.map((i) => hashes[i]),
        vectorArrayParam(
          chunk.map((i) => checked[i]!.embedding ?? vectors.get(i)!),
          oid,
        ),
      ]);
      for (const r of rows) created.set(identityKey(r.hash, r.memory_type, r.source), r.id);
    }
    // Rows stored before (or by a concurrent writer first): find them after our inserts settled.
    const raced = todo.filter((i) => !created.has(keys[i]!));
    if (raced.length > 0) {
      const again = await q.query<{ id: string; ord: number }>(SQL.FIND_EXISTING, [
        raced.map((i) => hashes[i]),
        raced.map((i) => checked[i]!.memoryType),
        raced.map((i) => checked[i]!.source),
      ]);
      for (const r of again.rows) existing.set(keys[raced[r.ord - 1]!]!, r.id);
    }
  };
  if (todo.length > 0) {
    try {
      if (tx !== undefined) await insert(tx);
      else await inTransaction(deps.pool, insert);
    } catch (err) {
      deps.vectorOid.forget(); // a stale oid heals on the next call
      throw err;
    }
  }
  return keys.map((k, i) => {
    const createdId = created.get(k);
    // Only the first occurrence of an entry repeated within the call counts as created.
    if (createdId !== undefined) return { id: createdId, created: firstOf.get(k) === i };
    return { id: existing.get(k)!, created: false };
  });
}

async function inTransaction(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await fn(client);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
