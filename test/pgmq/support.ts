// Shared pieces of the pgmq conformance suite. The suite talks to pgmq only through its SQL
// API (and the table layout pgmq documents), so it runs unchanged against animus's compatible
// schema (default) or the real extension (ANIMUS_TEST_PGMQ=extension on a server that has it).
import type pg from 'pg';
import { testKind, testPgmqMode } from '../support/database.js';

/** Which pgmq this run exercises, for the suite names. */
export const pgmqTarget = `${testKind} database, pgmq ${testPgmqMode === 'compat' ? 'compatible schema' : testPgmqMode}`;

/** A row of pgmq.message_record as `pg` returns it (bigint as string). */
export interface MessageRow {
  msg_id: string;
  read_ct: number;
  enqueued_at: Date;
  last_read_at: Date | null;
  vt: Date;
  message: unknown;
  headers: unknown;
}

/** A row of the archive table a_<queue>. */
export interface ArchiveRow extends MessageRow {
  archived_at: Date;
}

/** A row of pgmq.metrics_result as `pg` returns it. */
export interface MetricsRow {
  queue_name: string;
  queue_length: string;
  newest_msg_age_sec: number | null;
  oldest_msg_age_sec: number | null;
  total_messages: string;
  scrape_time: Date;
  queue_visible_length: string;
}

let counter = 0;

/** A fresh, valid queue name for one test (lower case, unique within the file). */
export function queueName(tag: string): string {
  counter += 1;
  return `${tag}_${counter}_${process.pid}`;
}

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.ClientBase, 'query'>;

/** Sends one message and returns its id. */
export async function send(db: Queryable, queue: string, message: unknown): Promise<string> {
  const { rows } = await db.query<{ send: string }>('SELECT * FROM pgmq.send($1, $2::jsonb)', [
    queue,
    JSON.stringify(message),
  ]);
  return rows[0]!.send;
}

/**
 * pgmq.read with the given visibility timeout and quantity, sorted by id: read takes the oldest
 * messages, but pgmq does not promise the order of the rows it returns.
 */
export async function read(db: Queryable, queue: string, vt: number, qty: number): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>('SELECT * FROM pgmq.read($1, $2, $3)', [queue, vt, qty]);
  return rows.sort((a, b) => (BigInt(a.msg_id) < BigInt(b.msg_id) ? -1 : 1));
}

/** Every row of q_<queue>, by id. */
export async function queueRows(db: Queryable, queue: string): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>(
    `SELECT * FROM pgmq.${quoteIdent(`q_${queue.toLowerCase()}`)} ORDER BY msg_id`,
  );
  return rows;
}

/** Every row of a_<queue>, by id. */
export async function archiveRows(db: Queryable, queue: string): Promise<ArchiveRow[]> {
  const { rows } = await db.query<ArchiveRow>(
    `SELECT * FROM pgmq.${quoteIdent(`a_${queue.toLowerCase()}`)} ORDER BY msg_id`,
  );
  return rows;
}

/** pgmq.metrics for one queue. */
export async function metrics(db: Queryable, queue: string): Promise<MetricsRow> {
  const { rows } = await db.query<MetricsRow>('SELECT * FROM pgmq.metrics($1)', [queue]);
  return rows[0]!;
}

/** Whether a relation exists in schema pgmq. */
export async function pgmqRelationExists(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(
    'SELECT to_regclass(format($1::text, $2::text)) IS NOT NULL AS ok',
    ['pgmq.%I', name],
  );
  return rows[0]!.ok;
}

/** Double-quotes an identifier for test SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Seconds between two timestamps. */
export function secondsBetween(from: Date, to: Date): number {
  return (to.getTime() - from.getTime()) / 1000;
}
