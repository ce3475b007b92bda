// pgmq conformance, queue functions: create / create_unlogged (tables, columns, vt index,
// meta row), list_queues, purge_queue, drop_queue, metrics / metrics_all, queue-name
// validation (too long, forbidden characters, hostile names never reach SQL), and pgmqInfo.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgmqInfo, pgmqStartupNotice } from '../../src/db/pgmq-info.js';
import { createTestDatabase, type TestDatabase, testPgmqMode } from '../support/database.js';
import {
  archiveRows,
  metrics,
  type MetricsRow,
  pgmqRelationExists,
  pgmqTarget,
  queueName,
  queueRows,
  read,
  send,
} from './support.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

interface QueueRecord {
  queue_name: string;
  is_partitioned: boolean;
  is_unlogged: boolean;
  created_at: Date;
}

async function listQueues(): Promise<QueueRecord[]> {
  const { rows } = await db.pool.query<QueueRecord>('SELECT * FROM pgmq.list_queues()');
  return rows;
}

async function columns(table: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ c: string }>(
    `SELECT column_name || ' ' || data_type AS c FROM information_schema.columns
     WHERE table_schema = 'pgmq' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => r.c);
}

/** Runs `sql` and returns the SQLSTATE it failed with (or 'no error'). */
async function failure(sql: string, params: unknown[]): Promise<string> {
  try {
    await db.pool.query(sql, params);
    return 'no error';
  } catch (err) {
    return String((err as { code?: string }).code);
  }
}

describe(`pgmq queues (${pgmqTarget})`, () => {
  it('create makes q_<name> and a_<name> with pgmq’s columns, a vt index and a meta row', async () => {
    const q = queueName('layout');
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    const ts = 'timestamp with time zone';
    // As a set: an extension upgraded in place may have added columns at the end.
    expect((await columns(`q_${q}`)).sort()).toEqual(
      [
        'msg_id bigint',
        'read_ct integer',
        `enqueued_at ${ts}`,
        `last_read_at ${ts}`,
        `vt ${ts}`,
        'message jsonb',
        'headers jsonb',
      ].sort(),
    );
    expect((await columns(`a_${q}`)).sort()).toEqual(
      [
        'msg_id bigint',
        'read_ct integer',
        `enqueued_at ${ts}`,
        `last_read_at ${ts}`,
        `archived_at ${ts}`,
        `vt ${ts}`,
        'message jsonb',
        'headers jsonb',
      ].sort(),
    );
    const { rows: identity } = await db.pool.query<{ is_identity: string }>(
      `SELECT is_identity FROM information_schema.columns
       WHERE table_schema = 'pgmq' AND table_name = $1 AND column_name = 'msg_id'`,
      [`q_${q}`],
    );
    expect(identity[0]!.is_identity).toBe('YES');
    const { rows: idx } = await db.pool.query<{ def: string }>(
      `SELECT indexdef AS def FROM pg_indexes WHERE schemaname = 'pgmq' AND tablename = $1`,
      [`q_${q}`],
    );
    expect(idx.some((i) => /\(vt\)/.test(i.def))).toBe(true);
    const mine = (await listQueues()).find((r) => r.queue_name === q);
    expect(mine).toMatchObject({ queue_name: q, is_partitioned: false, is_unlogged: false });
    expect(mine!.created_at).toBeInstanceOf(Date);
  });

  it('create is idempotent and keeps the messages', async () => {
    const q = queueName('again');
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    await send(db.pool, q, { keep: true });
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    expect((await listQueues()).filter((r) => r.queue_name === q)).toHaveLength(1);
    expect(await queueRows(db.pool, q)).toHaveLength(1);
  });

  it('create_unlogged makes an unlogged queue table', async () => {
    const q = queueName('unlogged');
    await db.pool.query('SELECT pgmq.create_unlogged($1)', [q]);
    const { rows } = await db.pool.query<{ p: string }>(
      `SELECT relpersistence AS p FROM pg_class WHERE oid = to_regclass(format('pgmq.%I', $1::text))`,
      [`q_${q}`],
    );
    expect(rows[0]!.p).toBe('u');
    expect((await listQueues()).find((r) => r.queue_name === q)?.is_unlogged).toBe(true);
    await send(db.pool, q, { u: 1 });
    expect(await read(db.pool, q, 30, 1)).toHaveLength(1);
  });

  it('purge_queue deletes every message and returns how many', async () => {
    const q = queueName('purge');
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    for (let i = 0; i < 3; i++) await send(db.pool, q, { i });
    await read(db.pool, q, 300, 1); // invisible ones are purged too
    const { rows } = await db.pool.query<{ purge_queue: string }>('SELECT pgmq.purge_queue($1)', [q]);
    expect(Number(rows[0]!.purge_queue)).toBe(3);
    expect(await queueRows(db.pool, q)).toEqual([]);
    const empty = await db.pool.query<{ purge_queue: string }>('SELECT pgmq.purge_queue($1)', [q]);
    expect(Number(empty.rows[0]!.purge_queue)).toBe(0);
    await send(db.pool, q, { after: true });
    expect(await read(db.pool, q, 30, 5)).toHaveLength(1);
  });

  it('drop_queue removes tables and meta row (true), then reports a missing queue (false)', async () => {
    const q = queueName('drop');
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    const id = await send(db.pool, q, { d: 1 });
    await db.pool.query('SELECT pgmq.archive($1, $2::bigint)', [q, id]);
    const { rows } = await db.pool.query<{ drop_queue: boolean }>('SELECT pgmq.drop_queue($1)', [q]);
    expect(rows[0]!.drop_queue).toBe(true);
    expect(await pgmqRelationExists(db.pool, `q_${q}`)).toBe(false);
    expect(await pgmqRelationExists(db.pool, `a_${q}`)).toBe(false);
    expect((await listQueues()).some((r) => r.queue_name === q)).toBe(false);
    const again = await db.pool.query<{ drop_queue: boolean }>('SELECT pgmq.drop_queue($1)', [q]);
    expect(again.rows[0]!.drop_queue).toBe(false);
  });

  describe('metrics', () => {
    it('reports lengths, visible length, lifetime total and ages', async () => {
      const q = queueName('metrics');
      await db.pool.query('SELECT pgmq.create($1)', [q]);
      const empty = await metrics(db.pool, q);
      expect(empty).toMatchObject({
        queue_name: q,
        queue_length: '0',
        total_messages: '0',
        queue_visible_length: '0',
        newest_msg_age_sec: null,
        oldest_msg_age_sec: null,
      });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await send(db.pool, q, { i }));
      await db.pool.query('SELECT pgmq.send($1, $2::jsonb, 3600)', [q, '{"later":1}']);
      await read(db.pool, q, 300, 2); // two now invisible
      await db.pool.query('SELECT pgmq.delete($1, $2::bigint)', [q, ids[4]]);
      await db.pool.query('SELECT pgmq.archive($1, $2::bigint)', [q, ids[3]]);
      // Age the oldest message by 100 s so the age columns have something to show.
      await db.pool.query(
        `UPDATE pgmq.${`"q_${q}"`} SET enqueued_at = enqueued_at - interval '100 seconds' WHERE msg_id = $1`,
        [ids[0]],
      );
      const before = Date.now();
      const m = await metrics(db.pool, q);
      expect(m.queue_name).toBe(q);
      expect(Number(m.queue_length)).toBe(4); // ids 0,1,2 + delayed
      expect(Number(m.queue_visible_length)).toBe(1); // id 2
      expect(Number(m.total_messages)).toBe(6); // every message ever sent
      expect(m.oldest_msg_age_sec).toBeGreaterThanOrEqual(99);
      expect(m.oldest_msg_age_sec).toBeLessThanOrEqual(102);
      expect(m.newest_msg_age_sec).toBeGreaterThanOrEqual(0);
      expect(m.newest_msg_age_sec).toBeLessThanOrEqual(2);
      expect(Math.abs(m.scrape_time.getTime() - before)).toBeLessThan(60_000);
      expect(await archiveRows(db.pool, q)).toHaveLength(1);
    });

    it('metrics_all reports every queue', async () => {
      const a = queueName('all_a');
      const b = queueName('all_b');
      await db.pool.query('SELECT pgmq.create($1)', [a]);
      await db.pool.query('SELECT pgmq.create($1)', [b]);
      await send(db.pool, b, { x: 1 });
      const { rows } = await db.pool.query<MetricsRow>('SELECT * FROM pgmq.metrics_all()');
      const byName = new Map(rows.map((r) => [r.queue_name, r]));
      expect(Number(byName.get(a)?.queue_length)).toBe(0);
      expect(Number(byName.get(b)?.queue_length)).toBe(1);
      expect(rows.length).toBe((await listQueues()).length);
    });
  });

  describe('queue names', () => {
    it('accepts 47 characters and rejects 48', async () => {
      const ok = `n${'x'.repeat(46)}`;
      await db.pool.query('SELECT pgmq.create($1)', [ok]);
      expect(await pgmqRelationExists(db.pool, `q_${ok}`)).toBe(true);
      const long = `m${'x'.repeat(47)}`;
      expect(await failure('SELECT pgmq.create($1)', [long])).not.toBe('no error');
      expect((await listQueues()).some((r) => r.queue_name === long)).toBe(false);
    });

    it.each([
      ['a semicolon', 'bad;name'],
      ['a quote', "bad'name"],
      ['a comment', 'bad--name'],
      ['a dollar', 'bad$name'],
      ['an injection', "x'); DROP TABLE pgmq.meta; --"],
    ])('rejects a name with %s in every function, writing nothing', async (_what, name) => {
      const before = await listQueues();
      const calls: [string, unknown[]][] = [
        ['SELECT pgmq.create($1)', [name]],
        ['SELECT pgmq.create_unlogged($1)', [name]],
        ['SELECT pgmq.send($1, $2::jsonb)', [name, '{}']],
        ['SELECT pgmq.send_batch($1, $2::jsonb[])', [name, ['{}']]],
        ['SELECT * FROM pgmq.read($1, 30, 1)', [name]],
        ['SELECT * FROM pgmq.pop($1)', [name]],
        ['SELECT pgmq.archive($1, 1::bigint)', [name]],
        ['SELECT pgmq.delete($1, 1::bigint)', [name]],
        ['SELECT * FROM pgmq.set_vt($1, 1::bigint, 1)', [name]],
        ['SELECT pgmq.purge_queue($1)', [name]],
        ['SELECT * FROM pgmq.metrics($1)', [name]],
      ];
      for (const [sql, params] of calls) {
        expect(await failure(sql, params), sql).not.toBe('no error');
      }
      expect(await listQueues()).toEqual(before);
      expect(await pgmqRelationExists(db.pool, 'meta')).toBe(true);
    });

    it('keeps odd but allowed names inside their own quoted tables', async () => {
      const name = 'odd "name" x';
      await db.pool.query('SELECT pgmq.create($1)', [name]);
      await send(db.pool, name, { odd: true });
      expect((await read(db.pool, name, 30, 1)).map((m) => m.message)).toEqual([{ odd: true }]);
      expect(await pgmqRelationExists(db.pool, `q_${name}`)).toBe(true);
      const { rows } = await db.pool.query<{ drop_queue: boolean }>('SELECT pgmq.drop_queue($1)', [name]);
      expect(rows[0]!.drop_queue).toBe(true);
    });
  });

  describe('pgmqInfo', () => {
    it(`reports the installed flavour (${testPgmqMode})`, async () => {
      const info = await pgmqInfo(db.pool);
      const { rows } = await db.pool.query<{ offered: boolean }>(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgmq') AS offered",
      );
      if (testPgmqMode === 'compat') {
        expect(info.flavour).toBe('compat');
        expect(info.version).toMatch(/^1\.\d+\.\d+$/);
        expect(info.description).toBe(`animus compatible schema (pgmq API ${info.version})`);
        expect(info.extensionAvailable).toBe(rows[0]!.offered);
        expect(pgmqStartupNotice(info) !== undefined).toBe(rows[0]!.offered);
      } else {
        expect(info.flavour).toBe('extension');
        expect(info.description).toBe(`pgmq extension ${info.version}`);
        expect(info.extensionAvailable).toBe(false);
        expect(pgmqStartupNotice(info)).toBeUndefined();
      }
    });

    it('says when the compatible schema could switch to an offered extension', () => {
      const notice = pgmqStartupNotice({
        flavour: 'compat',
        version: '1.11.0',
        extensionAvailable: true,
        description: 'animus compatible schema (pgmq API 1.11.0)',
      });
      expect(notice).toMatch(
        /offers the pgmq extension.*README\.md \("Switching a database to the extension"\)/,
      );
    });

    it('reports a database without pgmq as missing', async () => {
      // Drop pgmq inside a transaction that is rolled back: works for either flavour.
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('DROP SCHEMA pgmq CASCADE');
        const info = await pgmqInfo(client);
        expect(info.flavour).toBe('missing');
        expect(info.version).toBe('');
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
      expect((await pgmqInfo(db.pool)).flavour).not.toBe('missing');
    });
  });
});
