// Health of the database behind a pool: reachable or not, round-trip latency, the versions of
// Postgres, pgvector and pgmq, the migration state and the recorded embedding dimension. It
// never throws for an unreachable or half-migrated database — it reports what it found.
import type pg from 'pg';
import { migrationStatus } from './migrate.js';
import { type PgmqFlavour, pgmqInfo } from './pgmq-info.js';
import { connectFailureReason } from './pool.js';

export type { PgmqFlavour };

/** What {@link checkHealth} found. Fields are `undefined` when the database was unreachable. */
export interface HealthReport {
  /** `SELECT 1` answered. */
  readonly reachable: boolean;
  /** Round trip of `SELECT 1` in ms (after a connection was had). */
  readonly latencyMs: number | undefined;
  /** `server_version`, e.g. `15.14 (Debian 15.14-0+deb12u1)` or PGlite's `17.x`. */
  readonly serverVersion: string | undefined;
  /** pgvector's installed version in this database; `undefined` = not installed. */
  readonly pgvectorVersion: string | undefined;
  /** Which pgmq this database has (from {@link pgmqInfo}). */
  readonly pgmq: {
    /** `extension`, `compat` (animus's compatible schema) or `missing`. */
    readonly flavour: PgmqFlavour;
    /** Extension version, or the pgmq API version the compatible schema follows; `undefined` when missing. */
    readonly version: string | undefined;
    /** The server offers the real pgmq extension but this database does not use it. */
    readonly extensionAvailable: boolean;
    /** One line for people, e.g. `pgmq extension 1.11.0`. */
    readonly description: string;
  };
  readonly migrations: {
    /** Known migrations applied with a matching checksum. */
    readonly applied: number;
    /** Known migrations not yet applied. */
    readonly pending: number;
    /** Highest applied version; `undefined` when none. */
    readonly latest: number | undefined;
    /** Applied migrations whose file changed since (start-up refuses these). */
    readonly edited: number;
    /** Applied migrations this build does not know (start-up refuses these). */
    readonly unknown: number;
  };
  /** Embedding dimension recorded at the first migration; `undefined` before it. */
  readonly embeddingDimensions: number | undefined;
  /** Why the database is unreachable, or what could not be read (never a password). */
  readonly error: string | undefined;
}

/** Options for {@link checkHealth}. */
export interface HealthOptions {
  /** Migration directory to compare against. Default: the shipped `migrations/`. */
  migrationsDir?: string;
}

const SELECT_ONE = 'SELECT 1';
const SELECT_VERSIONS = `
SELECT current_setting('server_version') AS server_version,
       (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector_version,
       to_regclass('animus_settings') IS NOT NULL AS has_settings`;
const SELECT_DIMENSIONS = "SELECT value FROM animus_settings WHERE key = 'embedding_dimensions'";

interface VersionsRow {
  server_version: string;
  pgvector_version: string | null;
  has_settings: boolean;
}

const UNREACHABLE = {
  latencyMs: undefined,
  serverVersion: undefined,
  pgvectorVersion: undefined,
  pgmq: { flavour: 'missing', version: undefined, extensionAvailable: false, description: 'unknown' },
  migrations: { applied: 0, pending: 0, latest: undefined, edited: 0, unknown: 0 },
  embeddingDimensions: undefined,
} as const;

/**
 * Checks the database behind `pool`. Connecting is bounded by the pool's connect timeout.
 * Returns `reachable: false` with the reason instead of throwing when it cannot connect.
 */
export async function checkHealth(pool: pg.Pool, options: HealthOptions = {}): Promise<HealthReport> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    return { reachable: false, ...UNREACHABLE, error: connectFailureReason(err) };
  }
  let latencyMs: number;
  let versions: VersionsRow;
  let embeddingDimensions: number | undefined;
  let pgmq: HealthReport['pgmq'];
  try {
    const started = performance.now();
    await client.query(SELECT_ONE);
    latencyMs = Math.round((performance.now() - started) * 100) / 100;
    versions = (await client.query<VersionsRow>(SELECT_VERSIONS)).rows[0]!;
    if (versions.has_settings) {
      const { rows } = await client.query<{ value: string }>(SELECT_DIMENSIONS);
      embeddingDimensions = rows[0] === undefined ? undefined : Number(rows[0].value);
    }
    const info = await pgmqInfo(client);
    pgmq = {
      flavour: info.flavour,
      version: info.version === '' ? undefined : info.version,
      extensionAvailable: info.extensionAvailable,
      description: info.description,
    };
  } catch (err) {
    return { reachable: false, ...UNREACHABLE, error: connectFailureReason(err) };
  } finally {
    client.release();
  }

  let migrations: HealthReport['migrations'] = UNREACHABLE.migrations;
  let error: string | undefined;
  try {
    const status = await migrationStatus(pool, options.migrationsDir);
    const applied = status.filter((s) => s.state !== 'pending');
    migrations = {
      applied: status.filter((s) => s.state === 'applied').length,
      pending: status.filter((s) => s.state === 'pending').length,
      latest: applied.length === 0 ? undefined : Math.max(...applied.map((s) => s.version)),
      edited: status.filter((s) => s.state === 'edited').length,
      unknown: status.filter((s) => s.state === 'unknown').length,
    };
  } catch (err) {
    // A broken migrations directory is this build's problem, not the database's.
    error = `cannot read migrations: ${(err as Error).message}`;
  }

  return {
    reachable: true,
    latencyMs,
    serverVersion: versions.server_version,
    pgvectorVersion: versions.pgvector_version ?? undefined,
    pgmq,
    migrations,
    embeddingDimensions,
    error,
  };
}
