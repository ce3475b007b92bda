// animus's compatible pgmq schema, migration 0005: every queue has its own functions with
// static SQL (so each session plans a statement once), made by create and dropped by
// drop_queue; the public functions dispatch to them and keep their behaviour. Covers the
// queue's functions being used, every read and pop branch, names too long for them (multi-byte
// characters), queues created before the migration, and the migration leaving a schema pgmq
// that is not animus's alone. These tests are about the compatible schema, so they install it
// whatever ANIMUS_TEST_PGMQ says.
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMigrationsDir, migrate } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase, testKind } from '../support/database.js';
import {
  archiveRows,
  type MessageRow,
  pgmqRelationExists,
  queueName,
  queueRows,
  read,
  send,
} from './support.js';

const DIMENSIONS = 8;
/** The operations that have a function per queue, as they appear in its name. */
const OPS = ['send', 'sendbatch', 'read', 'pop', 'setvt', 'archive', 'archivemany', 'delete', 'deletemany'];

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A directory holding the shipped migrations whose version passes `keep`. */
function migrationsWhere(keep: (version: number) => boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'animus-pgmq-plans-'));
  tempDirs.push(dir);
  for (const file of readdirSync(defaultMigrationsDir())) {
    if (file.endsWith('.sql') && keep(Number.parseInt(file.slice(0, 4), 10))) {
      copyFileSync(join(defaultMigrationsDir(), file), join(dir, file));
    }
  }
  return dir;
}

/** A fresh database with animus's compatible schema, migrated with every shipped migration. */
async function compatDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: false });
  await migrate(db.pool, { embeddingDimensions: DIMENSIONS, pgmq: 'compat' });
  return db;
}

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.ClientBase, 'query'>;

/** The per-queue function names 0005 gives `queue`. */
function functionNames(queue: string): string[] {
  return OPS.map((op) => `_${op}_q_${queue.toLowerCase()}`);
}

/** Functions in schema pgmq whose name ends in `_q_<queue>`: the queue's own functions. */
async function queueFunctions(db: Queryable, queue: string): Promise<string[]> {
  const { rows } = await db.query<{ proname: string }>(
    `SELECT p.proname FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'pgmq'::regnamespace AND right(p.proname, length($1::text)) = $1::text
     ORDER BY 1`,
    [`_q_${queue.toLowerCase()}`],
  );
  return rows.map((r) => r.proname);
}

/** Runs `work` in a rolled-back transaction with function tracking; returns calls per function. */
async function callsDuring(
  db: TestDatabase,
  names: string[],
  work: (client: pg.PoolClient) => Promise<void>,
): Promise<Record<string, number>> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SET LOCAL track_functions = 'all'");
    await work(client);
    const { rows } = await client.query<{ funcname: string; calls: string }>(
      `SELECT funcname, calls FROM pg_catalog.pg_stat_xact_user_functions
       WHERE schemaname = 'pgmq' AND funcname = ANY ($1::text[])`,
      [names],
    );
    return Object.fromEntries(rows.map((r) => [r.funcname, Number(r.calls)]));
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

describe(`pgmq per-queue functions (${testKind} database, compatible schema)`, () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await compatDatabase();
  });

  afterAll(async () => {
    await db?.close();
  });

  it('create makes the queue’s functions; drop_queue removes them with the tables', async () => {
    const q = queueName('plans_life');
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    expect(await queueFunctions(db.pool, q)).toEqual([...functionNames(q)].sort());
    // create again (idempotent) leaves one set.
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    expect(await queueFunctions(db.pool, q)).toHaveLength(OPS.length);
    const { rows } = await db.pool.query<{ drop_queue: boolean }>('SELECT pgmq.drop_queue($1)', [q]);
    expect(rows[0]!.drop_queue).toBe(true);
    expect(await queueFunctions(db.pool, q)).toEqual([]);
    expect(await pgmqRelationExists(db.pool, `q_${q}`)).toBe(false);
    // A queue of the same name afterwards starts empty and works.
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    expect(await queueFunctions(db.pool, q)).toHaveLength(OPS.length);
    expect(await read(db.pool, q, 30, 5)).toEqual([]);
    await send(db.pool, q, { again: true });
    expect((await read(db.pool, q, 30, 5)).map((m) => m.message)).toEqual([{ again: true }]);
  });

  it('a rejected name creates no function', async () => {
    const count = async () =>
      Number(
        (
          await db.pool.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_catalog.pg_proc WHERE pronamespace = 'pgmq'::regnamespace",
          )
        ).rows[0]!.n,
      );
    const before = await count();
    for (const name of ["x'); DROP TABLE pgmq.meta; --", 'bad;name', `n${'x'.repeat(47)}`]) {
      await expect(db.pool.query('SELECT pgmq.create($1)', [name])).rejects.toThrow();
    }
    expect(await count()).toBe(before);
  });

  it('send, send_batch, read, pop, set_vt, archive and delete run through the queue’s functions', async () => {
    const q = queueName('Plans_Used'); // mixed case: the functions are named after the folded name
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    const calls = await callsDuring(db, functionNames(q), async (c) => {
      const lower = q.toLowerCase();
      const id = await send(c, lower, { n: 1 });
      await c.query('SELECT pgmq.send($1, $2::jsonb, $3::jsonb, 0)', [q, '{"n":2}', '{"h":1}']);
      await c.query('SELECT pgmq.send_batch($1, $2::jsonb[])', [q, ['{"n":3}', '{"n":4}', '{"n":5}']]);
      const [first] = await read(c, q.toUpperCase(), 30, 1);
      expect(first!.msg_id).toBe(id);
      await c.query('SELECT * FROM pgmq.set_vt($1, $2::bigint, 0)', [q, id]);
      expect(await c.query('SELECT pgmq.archive($1, $2::bigint) AS ok', [q, id])).toMatchObject({
        rows: [{ ok: true }],
      });
      const popped = await c.query<MessageRow>('SELECT * FROM pgmq.pop($1)', [q]);
      const rest = await read(c, q, 30, 10);
      expect(popped.rows.map((m) => m.message)).toEqual([{ n: 2 }]);
      expect(rest.map((m) => m.message)).toEqual([{ n: 3 }, { n: 4 }, { n: 5 }]);
      await c.query('SELECT pgmq.delete($1, $2::bigint)', [q, rest[0]!.msg_id]);
      await c.query('SELECT * FROM pgmq.delete($1, $2::bigint[])', [q, [rest[1]!.msg_id]]);
      await c.query('SELECT * FROM pgmq.archive($1, $2::bigint[])', [q, [rest[2]!.msg_id]]);
      expect(await queueRows(c, q)).toEqual([]);
    });
    const name = (op: string) => `_${op}_q_${q.toLowerCase()}`;
    expect(calls).toEqual({
      [name('send')]: 2,
      [name('sendbatch')]: 1,
      [name('read')]: 2,
      [name('setvt')]: 1,
      [name('archive')]: 1,
      [name('pop')]: 1,
      [name('delete')]: 1,
      [name('deletemany')]: 1,
      [name('archivemany')]: 1,
    });
  });

  it('read takes the oldest visible messages for qty 1 and more, with and without a condition; so does pop', async () => {
    const q = queueName('plans_branches');
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await send(db.pool, q, { i, kind: i % 2 === 0 ? 'even' : 'odd' }));
    const readIds = async (qty: number, conditional?: string) => {
      const { rows } = await db.pool.query<MessageRow>(
        conditional === undefined
          ? 'SELECT * FROM pgmq.read($1, 300, $2)'
          : 'SELECT * FROM pgmq.read($1, 300, $2, $3::jsonb)',
        conditional === undefined ? [q, qty] : [q, qty, conditional],
      );
      return rows.map((m) => m.msg_id).sort((a, b) => Number(a) - Number(b));
    };
    expect(await readIds(1)).toEqual([ids[0]]);
    expect(await readIds(1, '{"kind":"odd"}')).toEqual([ids[1]]);
    expect(await readIds(2, '{"kind":"even"}')).toEqual([ids[2], ids[4]]);
    expect(await readIds(1, '{}')).toEqual([ids[3]]);
    expect(await readIds(2)).toEqual([ids[5], ids[6]]);
    expect(await readIds(1, '{"kind":"even"}')).toEqual([]);
    // Every read counted once and hid its message for 300 s.
    const rows = await queueRows(db.pool, q);
    expect(rows.map((r) => r.read_ct)).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
    // Make the first four visible again, then pop one, then the rest.
    await db.pool.query('SELECT * FROM pgmq.set_vt($1, $2::bigint, 0)', [q, ids[2]]);
    await db.pool.query('SELECT * FROM pgmq.set_vt($1, $2::bigint, 0)', [q, ids[0]]);
    const one = await db.pool.query<MessageRow>('SELECT * FROM pgmq.pop($1, 1)', [q]);
    expect(one.rows.map((m) => m.msg_id)).toEqual([ids[0]]);
    const more = await db.pool.query<MessageRow>('SELECT * FROM pgmq.pop($1, 10)', [q]);
    expect(more.rows.map((m) => m.msg_id).sort((a, b) => Number(a) - Number(b))).toEqual([ids[2], ids[7]]);
    expect(await archiveRows(db.pool, q)).toEqual([]);
  });

  it('a name whose function names would not fit in an identifier keeps the dynamic path, apart from a queue sharing its prefix', async () => {
    // 29 two-byte characters and one more: q_<name> is 61 bytes, a fine table name, but
    // _archivemany_q_<name> would be 74 bytes, and names cut at 63 bytes would coincide.
    const a = `${'é'.repeat(29)}a`;
    const b = `${'é'.repeat(29)}b`;
    for (const name of [a, b]) await db.pool.query('SELECT pgmq.create($1)', [name]);
    expect(await queueFunctions(db.pool, a)).toEqual([]);
    expect(await queueFunctions(db.pool, b)).toEqual([]);
    const { rows: cut } = await db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_catalog.pg_proc WHERE pronamespace = 'pgmq'::regnamespace AND proname LIKE '%é%'",
    );
    expect(Number(cut[0]!.n)).toBe(0);
    const id = await send(db.pool, a, { to: 'a' });
    expect(await read(db.pool, b, 30, 5)).toEqual([]);
    const got = await read(db.pool, a, 30, 5);
    expect(got.map((m) => [m.msg_id, m.message])).toEqual([[id, { to: 'a' }]]);
    const { rows } = await db.pool.query<{ ok: boolean }>('SELECT pgmq.archive($1, $2::bigint) AS ok', [
      a,
      id,
    ]);
    expect(rows[0]!.ok).toBe(true);
    expect((await archiveRows(db.pool, a)).map((r) => r.msg_id)).toEqual([id]);
    expect(await archiveRows(db.pool, b)).toEqual([]);
    for (const name of [a, b]) await db.pool.query('SELECT pgmq.drop_queue($1)', [name]);
    // 24 two-byte characters: _archivemany_q_<name> is exactly 63 bytes, so it gets functions.
    const edge = 'é'.repeat(24);
    await db.pool.query('SELECT pgmq.create($1)', [edge]);
    expect(await queueFunctions(db.pool, edge)).toHaveLength(OPS.length);
    await send(db.pool, edge, { edge: true });
    expect((await read(db.pool, edge, 30, 1)).map((m) => m.message)).toEqual([{ edge: true }]);
  });

  it('a missing queue fails as before: relation does not exist', async () => {
    const missing = queueName('plans_missing');
    for (const [sql, params] of [
      ['SELECT pgmq.send($1, $2::jsonb)', [missing, '{}']],
      ['SELECT * FROM pgmq.read($1, 30, 1)', [missing]],
      ['SELECT pgmq.archive($1, 1::bigint)', [missing]],
    ] as const) {
      await expect(db.pool.query(sql, [...params])).rejects.toMatchObject({ code: '42P01' });
    }
  });
});

describe(`pgmq migration 0005 on an existing database (${testKind} database, compatible schema)`, () => {
  it('queues created before it get their functions and keep their messages and archives', async () => {
    const db = await createTestDatabase({ migrate: false });
    try {
      await migrate(db.pool, {
        embeddingDimensions: DIMENSIONS,
        pgmq: 'compat',
        dir: migrationsWhere((v) => v < 5),
      });
      const q = 'Made_Before';
      await db.pool.query('SELECT pgmq.create($1)', [q]);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await send(db.pool, q, { i }));
      await read(db.pool, q, 300, 1); // ids[0] hidden, read once
      await db.pool.query('SELECT pgmq.archive($1, $2::bigint)', [q, ids[1]]);
      expect(await queueFunctions(db.pool, q)).toEqual([]);

      const applied = await migrate(db.pool, { embeddingDimensions: DIMENSIONS, pgmq: 'compat' });
      expect(applied).toContain(5);
      expect(await queueFunctions(db.pool, q)).toEqual([...functionNames(q)].sort());

      const rows = await queueRows(db.pool, q);
      expect(rows.map((r) => [r.msg_id, r.read_ct])).toEqual([
        [ids[0], 1],
        [ids[2], 0],
        [ids[3], 0],
      ]);
      expect((await archiveRows(db.pool, q)).map((r) => r.msg_id)).toEqual([ids[1]]);
      const next = await read(db.pool, q, 30, 1);
      expect(next.map((m) => m.msg_id)).toEqual([ids[2]]);
      const id = await send(db.pool, q, { after: true });
      expect(BigInt(id)).toBeGreaterThan(BigInt(ids[3]!));
      const { rows: moved } = await db.pool.query<{ ok: boolean }>(
        'SELECT pgmq.archive($1, $2::bigint) AS ok',
        [q, ids[2]],
      );
      expect(moved[0]!.ok).toBe(true);
      expect((await archiveRows(db.pool, q)).map((r) => r.msg_id)).toEqual([ids[1], ids[2]]);
    } finally {
      await db.close();
    }
  });

  it('changes nothing when schema pgmq is not animus’s', async () => {
    const db = await createTestDatabase({ migrate: false });
    try {
      await migrate(db.pool, { embeddingDimensions: DIMENSIONS, dir: migrationsWhere((v) => v === 1) });
      // A stand-in for a pgmq that animus did not install.
      await db.pool.query('CREATE SCHEMA pgmq');
      await db.pool.query(
        `CREATE FUNCTION pgmq.read(queue_name text, vt integer, qty integer, conditional jsonb DEFAULT '{}')
         RETURNS text LANGUAGE sql AS $$ SELECT 'someone else''s pgmq' $$`,
      );
      const applied = await migrate(db.pool, {
        embeddingDimensions: DIMENSIONS,
        pgmq: 'compat',
        dir: migrationsWhere((v) => v === 1 || v === 5),
      });
      expect(applied).toEqual([5]);
      const { rows } = await db.pool.query<{ r: string; fns: string }>(
        `SELECT pgmq.read('q', 30, 1) AS r,
                (SELECT count(*) FROM pg_catalog.pg_proc WHERE pronamespace = 'pgmq'::regnamespace) AS fns`,
      );
      expect(rows[0]).toEqual({ r: "someone else's pgmq", fns: '1' });
    } finally {
      await db.close();
    }
  });
});
