// The migrator against a real database (embedded PGlite, or a fresh database on the server):
// a fresh run, a re-run that does nothing, concurrent migrators, an edited or unknown applied
// migration, the embedding dimension check, a failing migration rolled back whole, a
// no-transaction migration, and statement splitting.
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkSchema,
  defaultMigrationsDir,
  loadMigrations,
  MIGRATION_LOCK_KEY,
  migrate,
  migrationStatus,
  splitStatements,
} from '../../src/db/migrate.js';
import { AnimusError, SchemaMismatchError } from '../../src/errors/index.js';
import { testKind, testPgmqMode, useTestDatabase } from '../support/database.js';

const tempDirs: string[] = [];
function tempDir(files: Record<string, string> = {}, copyShipped = false): string {
  const dir = mkdtempSync(join(tmpdir(), 'animus-migrations-'));
  tempDirs.push(dir);
  if (copyShipped) cpSync(defaultMigrationsDir(), dir, { recursive: true });
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function appliedVersions(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ version: number }>('SELECT version FROM animus_migrations ORDER BY 1');
  return rows.map((r) => r.version);
}

async function tableExists(pool: pg.Pool, name: string): Promise<boolean> {
  const { rows } = await pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [name]);
  return rows[0]?.t !== null;
}

async function rejection(promise: Promise<unknown>): Promise<AnimusError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AnimusError);
    return err as AnimusError;
  }
  throw new Error('expected a rejection');
}

const shipped = loadMigrations();
const shippedVersions = shipped.map((m) => m.version);
const options = { embeddingDimensions: 512, pgmq: testPgmqMode } as const;

describe(`shipped migrations on a fresh ${testKind} database`, () => {
  const db = useTestDatabase({ migrate: false });

  it('applies every migration once, records checksums and the embedding dimension', async () => {
    const lines: string[] = [];
    const applied = await migrate(db.pool, { ...options, log: (l) => lines.push(l) });
    expect(applied).toEqual(shippedVersions);
    expect(lines).toHaveLength(shipped.length);
    const { rows } = await db.pool.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM animus_migrations ORDER BY version',
    );
    expect(rows).toEqual(shipped.map((m) => ({ version: m.version, checksum: m.checksum })));
    const dims = await db.pool.query("SELECT value FROM animus_settings WHERE key = 'embedding_dimensions'");
    expect(dims.rows).toEqual([{ value: '512' }]);
    for (const table of ['work_items', 'memories']) expect(await tableExists(db.pool, table)).toBe(true);
    await checkSchema(db.pool, 512);
  });

  it('does nothing on a re-run', async () => {
    const before = await db.pool.query('SELECT version, applied_at FROM animus_migrations ORDER BY 1');
    expect(await migrate(db.pool, options)).toEqual([]);
    const after = await db.pool.query('SELECT version, applied_at FROM animus_migrations ORDER BY 1');
    expect(after.rows).toEqual(before.rows);
    expect((await migrationStatus(db.pool)).every((s) => s.state === 'applied')).toBe(true);
  });

  it('refuses another embedding dimension with both numbers and the way out, before applying anything', async () => {
    const dir = tempDir({ '0099_later.sql': 'CREATE TABLE later_table (id int);' }, true);
    const err = await rejection(migrate(db.pool, { ...options, embeddingDimensions: 1536, dir }));
    expect(err).toBeInstanceOf(SchemaMismatchError);
    expect(err.message).toMatch(/stores 512-dimension embeddings but EMBEDDING_DIMENSIONS is 1536/);
    expect(err.message).toContain('set EMBEDDING_DIMENSIONS=512');
    expect(err.message).toContain('animus memory reembed');
    expect(await tableExists(db.pool, 'later_table')).toBe(false);
    expect(await appliedVersions(db.pool)).toEqual(shippedVersions);
    const check = await rejection(checkSchema(db.pool, 1536));
    expect(check.message).toMatch(/512.*1536/);
  });

  it('stops on an applied migration whose file was edited', async () => {
    const dir = tempDir({}, true);
    const file = readdirSync(dir).find((f) => f.startsWith('0003_'))!;
    appendFileSync(join(dir, file), '\n-- an innocent-looking edit\n');
    const err = await rejection(migrate(db.pool, { ...options, dir }));
    expect(err).toBeInstanceOf(SchemaMismatchError);
    expect(err.message).toMatch(/migration 3 \(work_items\) was edited after it was applied/);
    expect(err.message).toContain('add a new migration instead');
    await expect(checkSchema(db.pool, 512, dir)).rejects.toThrow(/was edited/);
    expect((await migrationStatus(db.pool, dir)).find((s) => s.version === 3)?.state).toBe('edited');
  });

  it('stops on an applied migration this build does not know (a newer animus ran)', async () => {
    const newer = tempDir({ '0099_from_the_future.sql': 'CREATE TABLE future_table (id int);' }, true);
    expect(await migrate(db.pool, { ...options, dir: newer })).toEqual([99]);
    const err = await rejection(migrate(db.pool, options));
    expect(err).toBeInstanceOf(SchemaMismatchError);
    expect(err.message).toMatch(
      /has migration 99 \(from_the_future\) that this build of animus does not know/,
    );
    expect(err.message).toContain('upgrade animus');
    await expect(checkSchema(db.pool, 512)).rejects.toThrow(/does not know/);
  });
});

describe(`two migrators at once on a fresh ${testKind} database`, () => {
  const db = useTestDatabase({ migrate: false });

  it('applies each migration exactly once, without an error', async () => {
    // On a server: separate pools, so the advisory lock is what keeps them apart. Embedded
    // PGlite has one session, so its single pooled connection serialises them instead.
    const pools =
      db.database.kind === 'server'
        ? [db.pool, await db.database.newPool(2), await db.database.newPool(2)]
        : [db.pool, db.pool];
    const results = await Promise.all(pools.map((pool) => migrate(pool, options)));
    expect(results.flat().sort((a, b) => a - b)).toEqual(shippedVersions);
    expect(results.filter((r) => r.length > 0)).toHaveLength(1);
    expect(await appliedVersions(db.pool)).toEqual(shippedVersions);
    await checkSchema(db.pool, 512);
  });

  it('says it waits while another process holds the migration lock, then migrates', async () => {
    const dir = tempDir({ '0099_after_wait.sql': 'CREATE TABLE after_wait (id int);' }, true);
    const lines: string[] = [];
    if (db.database.kind === 'embedded') {
      // One session: there is no other process to wait for.
      expect(await migrate(db.pool, { ...options, dir, log: (l) => lines.push(l) })).toEqual([99]);
      expect(lines).toEqual(['applied migration 0099_after_wait']);
      return;
    }
    const holder = await (await db.database.newPool(1)).connect();
    await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    let announced!: () => void;
    const waiting = new Promise<void>((resolve) => (announced = resolve));
    const running = migrate(db.pool, {
      ...options,
      dir,
      log: (l) => {
        lines.push(l);
        if (l.includes('waiting')) announced();
      },
    });
    await waiting;
    expect(await tableExists(db.pool, 'after_wait')).toBe(false);
    await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    holder.release();
    expect(await running).toEqual([99]);
    expect(lines).toEqual([
      'another process is migrating this database; waiting for it to finish',
      'applied migration 0099_after_wait',
    ]);
  });
});

describe(`hand-written migrations on a fresh ${testKind} database`, () => {
  const db = useTestDatabase({ migrate: false });

  const first = { '0001_first.sql': 'CREATE TABLE first_table (id int PRIMARY KEY, note text);' };

  it('rolls a failing migration back whole and names it with its SQLSTATE', async () => {
    const dir = tempDir({
      ...first,
      '0002_broken.sql': 'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;',
    });
    const err = await rejection(migrate(db.pool, { ...options, dir }));
    expect(err.code).toBe('MIGRATION_FAILED');
    expect(err.message).toMatch(/migration 2 \(broken\) failed \[SQLSTATE 42P01\]/);
    expect(await tableExists(db.pool, 'half_done')).toBe(false);
    expect(await appliedVersions(db.pool)).toEqual([1]);
    await expect(checkSchema(db.pool, 512, dir)).rejects.toThrow(
      /missing 1 migration\(s\) \(first: 2 broken\); run `animus migrate`/,
    );
  });

  it('runs a no-transaction migration statement by statement and fills in the dimension', async () => {
    const dir = tempDir({
      ...first,
      '0002_broken.sql': 'CREATE TABLE half_done (id int);',
      '0003_indexes.sql':
        '-- animus:no-transaction\n' +
        "-- CREATE INDEX CONCURRENTLY refuses to run in a transaction; the ';' here is a comment\n" +
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS first_note ON first_table (note);\n' +
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS half_done_id ON half_done (id);\n',
      '0004_sized.sql': 'CREATE TABLE sized_{{embedding_dimensions}} (id int);',
    });
    expect(await migrate(db.pool, { ...options, dir })).toEqual([2, 3, 4]);
    for (const name of ['first_note', 'half_done_id', 'sized_512'])
      expect(await tableExists(db.pool, name)).toBe(true);
    const dims = await db.pool.query("SELECT value FROM animus_settings WHERE key = 'embedding_dimensions'");
    expect(dims.rows).toEqual([{ value: '512' }]);
    await checkSchema(db.pool, 512, dir);
  });

  it('refuses a misnamed migration file instead of skipping it', () => {
    const dir = tempDir({ ...first, '2_second.sql': 'SELECT 1;' });
    expect(() => loadMigrations(dir)).toThrow(
      /2_second\.sql is misnamed: expected NNNN_lower_snake_name\.sql/,
    );
  });
});

describe('splitStatements', () => {
  it('splits at top-level semicolons only', () => {
    const sql = [
      "INSERT INTO t VALUES ('a;b', 'it''s; fine');",
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;',
      'SELECT $$;$$, "odd;name" FROM x; -- trailing; comment',
      '/* block; comment */ SELECT 2',
    ].join('\n');
    expect(splitStatements(sql)).toEqual([
      "INSERT INTO t VALUES ('a;b', 'it''s; fine')",
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql',
      'SELECT $$;$$, "odd;name" FROM x',
      '-- trailing; comment\n/* block; comment */ SELECT 2',
    ]);
    expect(splitStatements('  ;\n-- only a comment\n')).toEqual([]);
  });
});
