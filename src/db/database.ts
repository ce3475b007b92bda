// Opens animus's database: the configured server, or the embedded default when no
// DATABASE_URL is set. Either way the result is one `pg` Pool; callers never know which.
import type pg from 'pg';
import type { AnimusConfig } from '../config/index.js';
import { AnimusError } from '../errors/index.js';
import { type EmbeddedPostgres, startEmbedded } from './embedded.js';
import { checkSchema, migrate, type PgmqMode } from './migrate.js';
import { pgmqInfo, pgmqStartupNotice } from './pgmq-info.js';
import { openPool } from './pool.js';

/** Oldest Postgres animus supports, as `server_version_num`: 15. */
export const MIN_SERVER_VERSION_NUM = 150000;

const SELECT_SERVER_VERSION =
  "SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS text";

/** Throws, naming the server, its version and the way out, when Postgres is older than 15. */
export function checkServerVersion(num: number, text: string, target: string): void {
  if (num < MIN_SERVER_VERSION_NUM) {
    throw new AnimusError(
      'DATABASE_UNAVAILABLE',
      `the Postgres server at ${target} runs ${text}; animus needs Postgres 15 or newer: ` +
        'upgrade the server, or unset DATABASE_URL to use the embedded database',
    );
  }
}

/** An open database: the pool plus what kind of Postgres is behind it. */
export interface Database {
  readonly pool: pg.Pool;
  readonly kind: 'server' | 'embedded';
  /** host:port, for messages. */
  readonly target: string;
  /** The embedded server, when there is one (its URL lets other tools connect). */
  readonly embedded: EmbeddedPostgres | undefined;
  /** Whether cross-connection LISTEN/NOTIFY works (not on the embedded default). */
  readonly supportsNotify: boolean;
  /** Ends the pool and, if embedded, flushes and stops the database. Idempotent. */
  close(): Promise<void>;
}

/** Options for {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** Apply pending migrations (default true); otherwise only check the schema. */
  migrate?: boolean;
  /** Skip the schema check entirely (for `migrate --status`, `doctor`). Default false. */
  skipSchemaCheck?: boolean;
  /** How migration 0002 provides pgmq. Default `auto` (the extension where the server offers it). */
  pgmq?: PgmqMode;
  /** Called with a line per migration applied (and when waiting for another migrator). Default: none. */
  log?: (line: string) => void;
  /** Open a database whose stored embedding dimension differs from config (for reembed). Default false. */
  allowDimensionChange?: boolean;
  /** Embedded only: connections the socket server accepts (default 1). */
  embeddedMaxConnections?: number;
}

/** Opens the configured database, migrates it (by default) and checks its schema. */
export async function openDatabase(
  config: AnimusConfig,
  options: OpenDatabaseOptions = {},
): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let url: string;
  if (config.databaseUrl === undefined) {
    embedded = await startEmbedded({
      dataDir: config.dataDir,
      ...(options.embeddedMaxConnections === undefined
        ? {}
        : { maxConnections: options.embeddedMaxConnections }),
    });
    url = embedded.url;
  } else {
    url = config.databaseUrl.reveal();
  }
  let closed = false;
  try {
    const handle = await openPool({
      connectionString: url,
      // PGlite runs one session; a second pooled connection would share it unsafely.
      max: embedded === undefined ? config.db.poolMax : 1,
      connectTimeoutMs: config.db.connectTimeoutMs,
      // Embedded: keep the one connection. Reconnecting right after a close can race the socket
      // server's bookkeeping of the old one and be turned away as one connection too many.
      ...(embedded === undefined ? {} : { idleTimeoutMs: 0 }),
    });
    const close = async () => {
      if (closed) return;
      closed = true;
      try {
        await handle.pool.end();
      } finally {
        await embedded?.stop();
      }
    };
    try {
      const { rows } = await handle.pool.query<{ num: number; text: string }>(SELECT_SERVER_VERSION);
      checkServerVersion(rows[0]!.num, rows[0]!.text, handle.target);
      if (options.migrate !== false) {
        await migrate(handle.pool, {
          embeddingDimensions: config.embedding.dimensions,
          ...(options.pgmq === undefined ? {} : { pgmq: options.pgmq }),
          ...(options.log === undefined ? {} : { log: options.log }),
          allowDimensionChange: options.allowDimensionChange === true,
        });
      }
      if (options.skipSchemaCheck !== true) {
        await checkSchema(handle.pool, config.embedding.dimensions, undefined, {
          allowDimensionChange: options.allowDimensionChange === true,
        });
      }
      await handle.registerVectorType();
      // Say so when the server now offers the real pgmq extension but the compatible schema is in use.
      const notice = pgmqStartupNotice(await pgmqInfo(handle.pool));
      if (notice !== undefined) options.log?.(notice);
    } catch (err) {
      await close();
      throw err;
    }
    return {
      pool: handle.pool,
      kind: embedded === undefined ? 'server' : 'embedded',
      target: handle.target,
      embedded,
      supportsNotify: embedded === undefined,
      close,
    };
  } catch (err) {
    if (!closed) await embedded?.stop().catch(() => {});
    throw err;
  }
}
