// Test databases, one per test file. With ANIMUS_TEST_DATABASE_URL set, each file gets a
// fresh database on that server (created, migrated, dropped at the end); otherwise an
// in-memory embedded PGlite. `testKind` says which, and every suite prints it, so a run on
// the embedded default is never mistaken for a server run.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type AnimusConfig, resolveConfig } from '../../src/config/index.js';
import { type EmbeddedPostgres, startEmbedded } from '../../src/db/embedded.js';
import { migrate, type PgmqMode } from '../../src/db/migrate.js';
import { openPool } from '../../src/db/pool.js';
import { beforeAllResource } from './lifecycle.js';

/** The server URL tests run against, or undefined for embedded. */
export const serverUrl: string | undefined = process.env.ANIMUS_TEST_DATABASE_URL || undefined;
/** Which database this run uses. */
export const testKind: 'server' | 'embedded' = serverUrl === undefined ? 'embedded' : 'server';
/** pgmq flavour for tests: ANIMUS_TEST_PGMQ=extension runs the conformance suite on the real one. */
export const testPgmqMode: PgmqMode = (process.env.ANIMUS_TEST_PGMQ as PgmqMode | undefined) ?? 'compat';

/** A database for one test file. */
export interface TestDatabase {
  readonly kind: 'server' | 'embedded';
  /** Connection string (embedded: the loopback socket server). */
  readonly url: string;
  readonly pool: pg.Pool;
  /** How many connections may be used at once (embedded: 1). */
  readonly maxConnections: number;
  readonly embedded: EmbeddedPostgres | undefined;
  /** A config pointing at this database (server) — embedded tests use `url` directly. */
  config(overrides?: Parameters<typeof resolveConfig>[0]): AnimusConfig;
  /** Opens an extra pool on the same database (server only makes this truly concurrent). */
  newPool(max?: number): Promise<pg.Pool>;
  close(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Run migrations (default true). */
  migrate?: boolean;
  embeddingDimensions?: number;
  /** Embedded only: socket connections allowed (default 2, so a second client can be tried). */
  embeddedMaxConnections?: number;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end().catch(() => {});
  }
}

/**
 * Creates an isolated database for the calling test file, migrated unless `migrate: false`.
 * If anything fails half-way, what was created is removed again before the error is thrown.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const dims = options.embeddingDimensions ?? 512;
  let url: string;
  let embedded: EmbeddedPostgres | undefined;
  let dropName: string | undefined;
  if (serverUrl !== undefined) {
    // A generated name (letters and hex digits only), so interpolating it is safe.
    dropName = `animus_t_${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${dropName}`);
    url = withDatabase(serverUrl, dropName);
  } else {
    embedded = await startEmbedded({
      dataDir: undefined,
      maxConnections: options.embeddedMaxConnections ?? 2,
    });
    url = embedded.url;
  }
  const dropEverything = async () => {
    if (embedded !== undefined) await embedded.stop();
    if (dropName !== undefined) await adminQuery(`DROP DATABASE IF EXISTS ${dropName} WITH (FORCE)`);
  };
  const maxConnections = embedded === undefined ? 20 : 1;
  let handle: Awaited<ReturnType<typeof openPool>>;
  try {
    handle = await openPool({
      connectionString: url,
      max: maxConnections,
      connectTimeoutMs: 10_000,
    });
  } catch (err) {
    await dropEverything().catch(() => {});
    throw err;
  }
  try {
    if (options.migrate !== false) {
      await migrate(handle.pool, { embeddingDimensions: dims, pgmq: testPgmqMode });
      await handle.registerVectorType();
    }
  } catch (err) {
    await handle.pool.end().catch(() => {});
    await dropEverything().catch(() => {});
    throw err;
  }
  const extraPools: pg.Pool[] = [];
  let closed = false;
  return {
    kind: testKind,
    url,
    pool: handle.pool,
    maxConnections,
    embedded,
    config(overrides = {}) {
      return resolveConfig({ databaseUrl: url, ...overrides });
    },
    async newPool(max = 4) {
      const extra = await openPool({
        connectionString: url,
        max: embedded === undefined ? max : 1,
        connectTimeoutMs: 10_000,
      });
      await extra.registerVectorType().catch(() => false);
      extraPools.push(extra.pool);
      return extra.pool;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const p of extraPools) await p.end().catch(() => {});
      await handle.pool.end();
      await dropEverything();
    },
  };
}

/**
 * A database for the test file or `describe` block it is called in (see {@link createTestDatabase}):
 * created before its tests, closed after them. Read `pool` (or `database`) inside tests: they
 * exist once `beforeAll` has run.
 */
export function useTestDatabase(options: TestDatabaseOptions = {}): {
  readonly pool: pg.Pool;
  readonly database: TestDatabase;
} {
  const database = beforeAllResource('the test database', () => createTestDatabase(options));
  return {
    get pool() {
      return database().pool;
    },
    get database() {
      return database();
    },
  };
}
