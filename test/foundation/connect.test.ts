// Failing to reach a usable database: a malformed DATABASE_URL, a closed port, a server that
// accepts the connection but never answers (the connect timeout must bound the wait), and a
// real Postgres without pgvector (PGlite started with no extensions) — each error names where
// it tried and what to do, and never the password.
import { createServer, type Server, type Socket } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv, resolveConfig } from '../../src/config/index.js';
import { openDatabase } from '../../src/db/database.js';
import { checkHealth } from '../../src/db/health.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { AnimusError, ConfigError } from '../../src/errors/index.js';

const PASSWORD = 'pw-Zq81-never-shown';

async function failure(promise: Promise<unknown>): Promise<AnimusError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AnimusError);
    return err as AnimusError;
  }
  throw new Error('expected a failure');
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A loopback port nothing listens on (bound once, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

describe('a bad DATABASE_URL', () => {
  it.each([
    ['not a URL', `animus:${PASSWORD}@db:5432/animus`, /DATABASE_URL: (is not a URL|must use the postgres)/],
    [
      'the wrong scheme',
      `mysql://animus:${PASSWORD}@db:3306/animus`,
      /must use the postgres:\/\/ or postgresql:\/\/ scheme, got 'mysql:\/\/'/,
    ],
    ['an http URL', `https://animus:${PASSWORD}@db/animus`, /got 'https:\/\/'/],
  ])('is refused when it is %s, without the password', (_what, url, message) => {
    let caught: unknown;
    try {
      configFromEnv({ DATABASE_URL: url });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe('DATABASE_URL');
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).toContain('example: DATABASE_URL=postgres://');
    expect((caught as Error).message).not.toContain(PASSWORD);
  });
});

describe('an unreachable server', () => {
  it('fails fast on a closed port, naming host:port and not the password', async () => {
    const port = await closedPort();
    const config = resolveConfig({
      databaseUrl: `postgres://animus:${PASSWORD}@127.0.0.1:${port}/animus`,
      connectTimeoutMs: 3000,
    });
    const started = Date.now();
    const err = await failure(openDatabase(config));
    const elapsed = Date.now() - started;
    expect(err.code).toBe('DATABASE_UNAVAILABLE');
    expect(err.message).toContain(`cannot connect to Postgres at 127.0.0.1:${port}`);
    expect(err.message).toContain('connection refused');
    expect(err.message).not.toContain(PASSWORD);
    expect(elapsed).toBeLessThan(3000 + 2000);
  });

  describe('a server that accepts but never answers', () => {
    const silent = createServer((socket) => sockets.push(socket));
    const sockets: Socket[] = [];
    let port = 0;
    beforeAll(async () => {
      port = await listen(silent);
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await closeServer(silent);
    });

    it('gives up after the connect timeout, naming host:port', async () => {
      const timeout = 1000;
      const config = resolveConfig({
        databaseUrl: `postgres://animus:${PASSWORD}@127.0.0.1:${port}/animus`,
        connectTimeoutMs: timeout,
      });
      const started = Date.now();
      const err = await failure(openDatabase(config));
      const elapsed = Date.now() - started;
      expect(err.code).toBe('DATABASE_UNAVAILABLE');
      expect(err.message).toContain(`127.0.0.1:${port} (connect timeout ${timeout} ms)`);
      expect(err.message).not.toContain(PASSWORD);
      expect(sockets.length).toBeGreaterThan(0);
      // Bounded by the timeout (generous margin for a loaded CI machine), not hanging.
      expect(elapsed).toBeGreaterThanOrEqual(timeout - 50);
      expect(elapsed).toBeLessThan(timeout + 5000);
    });
  });

  it('is reported by the health check instead of thrown', async () => {
    const port = await closedPort();
    const pool = new pg.Pool({
      connectionString: `postgres://animus:${PASSWORD}@127.0.0.1:${port}/animus`,
      connectionTimeoutMillis: 2000,
    });
    try {
      const health = await checkHealth(pool);
      expect(health.reachable).toBe(false);
      expect(health.serverVersion).toBeUndefined();
      expect(health.error).toContain('connection refused');
      expect(JSON.stringify(health)).not.toContain(PASSWORD);
    } finally {
      await pool.end();
    }
  });
});

describe('a Postgres server without pgvector', () => {
  let db: PGlite;
  let server: PGLiteSocketServer;
  let url = '';
  beforeAll(async () => {
    // PGlite with no extensions loaded is a real Postgres that lacks pgvector.
    db = await PGlite.create();
    // Two: the socket server forgets a closed connection a moment after the client sees it closed.
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 2 });
    await server.start();
    const conn = server.getServerConn();
    url = `postgres://postgres@127.0.0.1:${conn.slice(conn.lastIndexOf(':') + 1)}/postgres?sslmode=disable`;
  });
  afterAll(async () => {
    await server?.stop();
    await db?.close();
  });

  it('stops migrations with the remedy, having applied nothing', async () => {
    const err = await failure(openDatabase(resolveConfig({ databaseUrl: url })));
    expect(err.code).toBe('EXTENSION_MISSING');
    expect(err.message).toContain("lacks the 'vector' extension needed by migration 1 (extensions)");
    expect(err.message).toContain('scripts/setup-postgres.sh');
    expect(err.message).toContain('unset DATABASE_URL to use the embedded database');

    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      // migrate() directly says the same; nothing was recorded.
      await expect(migrate(pool, { embeddingDimensions: 512 })).rejects.toThrow(
        /lacks the 'vector' extension/,
      );
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM animus_migrations');
      expect(rows).toEqual([{ n: 0 }]);
      const health = await checkHealth(pool);
      expect(health).toMatchObject({
        reachable: true,
        pgvectorVersion: undefined,
        migrations: { applied: 0, pending: loadMigrations().length, latest: undefined },
        embeddingDimensions: undefined,
      });
    } finally {
      await pool.end();
    }
  });
});
