// The one `pg` Pool every module shares. Connecting is bounded by a timeout and fails with
// the host and port named; pgvector's `vector` type is parsed into number arrays through a
// per-pool type table (its OID is looked up once, not per connection).
import pg from 'pg';
import pgvector from 'pgvector';
import { AnimusError } from '../errors/index.js';

/** Options for {@link openPool}. */
export interface PoolOptions {
  /** `postgres://` URL; it may hold a password and never appears in messages. */
  connectionString: string;
  /** Most connections open at once. */
  max: number;
  /** How long one connection attempt may take, in ms. */
  connectTimeoutMs: number;
  /** Close connections idle this long (ms); 0 keeps them. Default 30000. */
  idleTimeoutMs?: number;
  /** `application_name` shown in `pg_stat_activity`. Default `animus`. */
  applicationName?: string;
}

/** Host and port of a connection string, for error messages (never the password). */
export function describeTarget(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    const host = url.hostname || url.searchParams.get('host') || 'localhost';
    return `${host}:${url.port || '5432'}`;
  } catch {
    return 'the configured server';
  }
}

/** Why a connection attempt failed, in words (Node reports some as an AggregateError without a message). */
export function connectFailureReason(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: unknown[] };
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    const parts = e.errors.map((inner) => connectFailureReason(inner));
    return [...new Set(parts)].join('; ');
  }
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  if (e.code === 'ECONNREFUSED') return `connection refused (${message}); is Postgres running there?`;
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `host not found (${message})`;
  return message;
}

/** pgvector's `vector` type oid as the session resolves the name (`oid` NULL before the extension exists). */
export const VECTOR_TYPE_OID = "SELECT to_regtype('vector')::oid::int AS oid";

/** `jsonb`'s type oid (a built-in type's, the same on every server). */
const JSONB_OID = 3802;
/** How jsonb writes an object whose one key is `traceparent`, up to the value's first character. */
const TRACE_HEADERS = '{"traceparent": "';

/**
 * A jsonb value's text as `JSON.parse` reads it. The message headers animus writes (a W3C
 * `traceparent` alone, one per claimed item) are read without the parser: their text is
 * `{"traceparent": "…"}` exactly, and a value without a quote or backslash in it (jsonb writes
 * every escape with a backslash) is the text between the quotes. About a third of the parser's
 * time for such headers.
 */
export function parseJsonb(text: string): unknown {
  const n = text.length;
  if (
    n > TRACE_HEADERS.length + 2 &&
    text.charCodeAt(n - 1) === 125 &&
    text.charCodeAt(n - 2) === 34 &&
    text.startsWith(TRACE_HEADERS)
  ) {
    const value = text.slice(TRACE_HEADERS.length, n - 2);
    if (value.indexOf('"') === -1 && value.indexOf('\\') === -1) return { traceparent: value };
  }
  return JSON.parse(text);
}

/** Type table for one pool: pg's defaults with jsonb read by {@link parseJsonb}, and pgvector's `vector` once its OID is known. */
class PoolTypes {
  vectorOid: number | undefined;

  getTypeParser = ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary') {
      if (oid === JSONB_OID) return parseJsonb;
      if (oid === this.vectorOid) return (v: string) => pgvector.fromSql(v);
    }
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser;
}

/** A `pg` Pool with animus's settings. */
export interface AnimusPool {
  readonly pool: pg.Pool;
  readonly target: string;
  /** Looks up pgvector's type OID (after migrations created it) so vectors parse to arrays. */
  registerVectorType(): Promise<boolean>;
}

/** Creates the pool and proves it can connect, within the timeout. */
export async function openPool(options: PoolOptions): Promise<AnimusPool> {
  const types = new PoolTypes();
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    application_name: options.applicationName ?? 'animus',
    types,
  });
  // An idle client that errors (server restart) must not crash the process; the pool drops it.
  pool.on('error', () => {});
  const target = describeTarget(options.connectionString);
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => {});
    throw new AnimusError(
      'DATABASE_UNAVAILABLE',
      `cannot connect to Postgres at ${target} (connect timeout ${options.connectTimeoutMs} ms): ${connectFailureReason(err)}`,
      { cause: err },
    );
  }
  return {
    pool,
    target,
    async registerVectorType() {
      const { rows } = await pool.query<{ oid: number | null }>(VECTOR_TYPE_OID);
      types.vectorOid = rows[0]?.oid ?? undefined;
      return types.vectorOid !== undefined;
    },
  };
}
