// A migrated database of this run's kind, opened through a URL as a server is, and its health:
// reachable, a latency, the Postgres, pgvector and pgmq versions, the migration state and the
// recorded dimension; how it reports a migration this build does not know; the version floor.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkServerVersion, openDatabase } from '../../src/db/database.js';
import { checkHealth } from '../../src/db/health.js';
import { loadMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase, testKind, testPgmqMode } from '../support/database.js';

describe(`openDatabase and checkHealth on a migrated ${testKind} database`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('reports versions, migration state and the embedding dimension', async () => {
    const migrations = loadMigrations();
    const health = await checkHealth(db.pool);
    expect(health.reachable).toBe(true);
    expect(health.error).toBeUndefined();
    expect(health.latencyMs).toBeGreaterThanOrEqual(0);
    expect(health.serverVersion).toMatch(/^\d+\.\d+/);
    expect(Number.parseInt(health.serverVersion!, 10)).toBeGreaterThanOrEqual(15);
    expect(health.pgvectorVersion).toMatch(/^0\.\d+\.\d+/);
    expect(health.migrations).toEqual({
      applied: migrations.length,
      pending: 0,
      latest: Math.max(...migrations.map((m) => m.version)),
      edited: 0,
      unknown: 0,
    });
    expect(health.embeddingDimensions).toBe(512);
    const shipsPgmq = migrations.some((m) => m.directives.has('pgmq'));
    const expected = !shipsPgmq ? 'missing' : testPgmqMode === 'compat' ? 'compat' : 'extension';
    expect(health.pgmq.flavour).toBe(expected);
    expect(typeof health.pgmq.extensionAvailable).toBe('boolean');
    if (expected !== 'missing') expect(health.pgmq.version).toMatch(/^\d+\.\d+/);
    expect(health.pgmq.description).toContain('pgmq');
  });

  it('is opened through a DATABASE_URL like any server: checked, not re-migrated, vectors parsed', async () => {
    const lines: string[] = [];
    const opened = await openDatabase(db.config(), { log: (l) => lines.push(l) });
    try {
      expect(opened.kind).toBe('server');
      expect(opened.supportsNotify).toBe(true);
      expect(opened.embedded).toBeUndefined();
      expect(opened.target).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(lines).toEqual([]);
      const { rows } = await opened.pool.query("SELECT '[0.5,1.5]'::vector AS v");
      expect(rows[0].v).toEqual([0.5, 1.5]);
    } finally {
      await opened.close();
    }
  });

  it('refuses a Postgres older than 15, naming it and the way out', () => {
    expect(() => checkServerVersion(140011, '14.11', 'db.internal:5432')).toThrow(
      'the Postgres server at db.internal:5432 runs 14.11; animus needs Postgres 15 or newer',
    );
    expect(() => checkServerVersion(150000, '15.0', 'db:5432')).not.toThrow();
  });

  it('counts applied migrations this build does not know', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'animus-health-'));
    try {
      const health = await checkHealth(db.pool, { migrationsDir: empty });
      expect(health.migrations).toMatchObject({ applied: 0, pending: 0, unknown: loadMigrations().length });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
