// The health check on a migrated database of this run's kind: reachable, a latency, the
// Postgres, pgvector and pgmq versions, the migration state and the recorded dimension; and
// how it reports a migration this build does not know.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth } from '../../src/db/health.js';
import { loadMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase, testKind, testPgmqMode } from '../support/database.js';

describe(`checkHealth on a migrated ${testKind} database`, () => {
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
