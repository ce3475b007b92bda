// pgmq conformance, message functions: send / send_batch (headers, delays in seconds and as a
// timestamp), read (visibility timeout, read_ct, last_read_at, qty, conditional),
// read_with_poll, pop, set_vt, archive and delete (one id or an array).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import {
  archiveRows,
  type MessageRow,
  pgmqTarget,
  queueName,
  queueRows,
  read,
  secondsBetween,
  send,
} from './support.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

async function newQueue(tag: string): Promise<string> {
  const name = queueName(tag);
  await db.pool.query('SELECT pgmq.create($1)', [name]);
  return name;
}

describe(`pgmq messages (${pgmqTarget})`, () => {
  describe('send', () => {
    it('returns one new, increasing id per message and stores the body', async () => {
      const q = await newQueue('send');
      const a = await send(db.pool, q, { n: 1 });
      const b = await send(db.pool, q, { n: 2 });
      expect(BigInt(b)).toBeGreaterThan(BigInt(a));
      const rows = await queueRows(db.pool, q);
      expect(rows.map((r) => [r.msg_id, r.message, r.read_ct, r.last_read_at])).toEqual([
        [a, { n: 1 }, 0, null],
        [b, { n: 2 }, 0, null],
      ]);
    });

    it('fails for a queue that does not exist, creating nothing', async () => {
      const missing = queueName('missing');
      for (const sql of ['SELECT pgmq.send($1, $2::jsonb)', 'SELECT * FROM pgmq.read($1, 30, $2::integer)']) {
        await expect(db.pool.query(sql, [missing, sql.includes('send') ? '{}' : 1])).rejects.toThrow();
      }
      const { rows } = await db.pool.query('SELECT 1 FROM pgmq.list_queues() WHERE queue_name = $1', [
        missing,
      ]);
      expect(rows).toEqual([]);
    });

    it('round-trips headers, with and without a delay', async () => {
      const q = await newQueue('headers');
      const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', n: [1, 2] };
      await db.pool.query('SELECT pgmq.send($1, $2::jsonb, $3::jsonb)', [
        q,
        '{"a":1}',
        JSON.stringify(headers),
      ]);
      await db.pool.query('SELECT pgmq.send($1, $2::jsonb, $3::jsonb, 0)', [q, '{"a":2}', '{"h":2}']);
      await db.pool.query('SELECT pgmq.send($1, $2::jsonb)', [q, '{"a":3}']);
      const got = await read(db.pool, q, 30, 10);
      expect(got.map((m) => [m.message, m.headers])).toEqual([
        [{ a: 1 }, headers],
        [{ a: 2 }, { h: 2 }],
        [{ a: 3 }, null],
      ]);
    });

    it('delays visibility by whole seconds', async () => {
      const q = await newQueue('delay_s');
      const { rows } = await db.pool.query<{ send: string }>(
        'SELECT * FROM pgmq.send($1, $2::jsonb, $3::integer)',
        [q, '{"late":true}', 2],
      );
      const id = rows[0]!.send;
      expect(await read(db.pool, q, 30, 1)).toEqual([]);
      const [row] = await queueRows(db.pool, q);
      expect(secondsBetween(row!.enqueued_at, row!.vt)).toBeGreaterThanOrEqual(1.9);
      expect(secondsBetween(row!.enqueued_at, row!.vt)).toBeLessThan(3);
      // Becomes readable once the delay has passed: read_with_poll waits for it server-side.
      const { rows: later } = await db.pool.query<MessageRow>(
        'SELECT * FROM pgmq.read_with_poll($1, 30, 1, 10, 50)',
        [q],
      );
      expect(later.map((m) => m.msg_id)).toEqual([id]);
      expect(later[0]!.last_read_at!.getTime()).toBeGreaterThanOrEqual(row!.vt.getTime());
    });

    it('delays visibility until a timestamp, with and without headers', async () => {
      const q = await newQueue('delay_ts');
      const at = new Date(Date.now() + 3_600_000);
      await db.pool.query('SELECT pgmq.send($1, $2::jsonb, $3::timestamptz)', [q, '{"a":1}', at]);
      await db.pool.query('SELECT pgmq.send($1, $2::jsonb, $3::jsonb, $4::timestamptz)', [
        q,
        '{"a":2}',
        '{"h":1}',
        at,
      ]);
      const rows = await queueRows(db.pool, q);
      expect(rows.map((r) => r.vt.getTime())).toEqual([at.getTime(), at.getTime()]);
      expect(rows[1]!.headers).toEqual({ h: 1 });
      expect(await read(db.pool, q, 30, 10)).toEqual([]);
    });
  });

  describe('send_batch', () => {
    it('returns ids in the order of the messages, headers paired by position', async () => {
      const q = await newQueue('batch');
      const msgs = [0, 1, 2, 3, 4].map((n) => JSON.stringify({ n }));
      const hdrs = [0, 1, 2, 3, 4].map((n) => JSON.stringify({ h: n }));
      const { rows } = await db.pool.query<{ send_batch: string }>(
        'SELECT * FROM pgmq.send_batch($1, $2::jsonb[], $3::jsonb[])',
        [q, msgs, hdrs],
      );
      const ids = rows.map((r) => BigInt(r.send_batch));
      expect(ids).toHaveLength(5);
      expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
      const stored = await queueRows(db.pool, q);
      for (const [i, r] of stored.entries()) {
        expect(r.msg_id).toBe(String(ids[i]));
        expect(r.message).toEqual({ n: i });
        expect(r.headers).toEqual({ h: i });
      }
    });

    it('applies a delay in seconds or as a timestamp to every message', async () => {
      const q = await newQueue('batch_delay');
      const at = new Date(Date.now() + 86_400_000);
      await db.pool.query('SELECT pgmq.send_batch($1, $2::jsonb[], $3::integer)', [
        q,
        ['{"a":1}', '{"a":2}'],
        60,
      ]);
      await db.pool.query('SELECT pgmq.send_batch($1, $2::jsonb[], $3::timestamptz)', [q, ['{"b":1}'], at]);
      await db.pool.query('SELECT pgmq.send_batch($1, $2::jsonb[], $3::jsonb[], $4::integer)', [
        q,
        ['{"c":1}'],
        ['{"h":1}'],
        60,
      ]);
      await db.pool.query('SELECT pgmq.send_batch($1, $2::jsonb[], $3::jsonb[], $4::timestamptz)', [
        q,
        ['{"d":1}'],
        ['{"h":2}'],
        at,
      ]);
      const rows = await queueRows(db.pool, q);
      expect(rows).toHaveLength(5);
      for (const r of [rows[0]!, rows[1]!, rows[3]!]) {
        expect(secondsBetween(r.enqueued_at, r.vt)).toBeGreaterThanOrEqual(59.5);
        expect(secondsBetween(r.enqueued_at, r.vt)).toBeLessThan(61);
      }
      expect(rows[2]!.vt.getTime()).toBe(at.getTime());
      expect(rows[4]!.vt.getTime()).toBe(at.getTime());
      expect(rows[4]!.headers).toEqual({ h: 2 });
      expect(await read(db.pool, q, 30, 10)).toEqual([]);
    });
  });

  describe('read', () => {
    it('hides a message until its visibility timeout ends, then delivers it again', async () => {
      const q = await newQueue('vt');
      const id = await send(db.pool, q, { job: 1 });
      const [first] = await read(db.pool, q, 1, 1);
      expect(first?.msg_id).toBe(id);
      expect(secondsBetween(first!.last_read_at!, first!.vt)).toBeCloseTo(1, 0);
      expect(await read(db.pool, q, 1, 1)).toEqual([]);
      const { rows } = await db.pool.query<MessageRow>(
        'SELECT * FROM pgmq.read_with_poll($1, 30, 1, 10, 50)',
        [q],
      );
      expect(rows.map((m) => m.msg_id)).toEqual([id]);
      // Not before the first read's timeout ran out.
      expect(rows[0]!.last_read_at!.getTime()).toBeGreaterThanOrEqual(first!.vt.getTime());
    });

    it('counts reads in read_ct and stamps last_read_at on each read', async () => {
      const q = await newQueue('read_ct');
      await send(db.pool, q, { x: 1 });
      const seen: MessageRow[] = [];
      for (let i = 0; i < 3; i++) {
        const [m] = await read(db.pool, q, 0, 1);
        seen.push(m!);
      }
      expect(seen.map((m) => m.read_ct)).toEqual([1, 2, 3]);
      const stamps = seen.map((m) => m.last_read_at!.getTime());
      expect(stamps[1]!).toBeGreaterThanOrEqual(stamps[0]!);
      expect(stamps[2]!).toBeGreaterThanOrEqual(stamps[1]!);
      const [stored] = await queueRows(db.pool, q);
      expect(stored!.read_ct).toBe(3);
      expect(stored!.last_read_at!.getTime()).toBe(stamps[2]);
    });

    it('returns at most qty messages, oldest first', async () => {
      const q = await newQueue('qty');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await send(db.pool, q, { i }));
      const a = await read(db.pool, q, 30, 3);
      const b = await read(db.pool, q, 30, 3);
      const c = await read(db.pool, q, 30, 3);
      expect(a.map((m) => m.msg_id).sort()).toEqual(ids.slice(0, 3).sort());
      expect(b.map((m) => m.msg_id).sort()).toEqual(ids.slice(3).sort());
      expect(c).toEqual([]);
      expect(await read(db.pool, q, 30, 0)).toEqual([]);
    });

    it('filters by a conditional containment on the body', async () => {
      const q = await newQueue('cond');
      await send(db.pool, q, { kind: 'a', n: 1 });
      const b = await send(db.pool, q, { kind: 'b', n: 2 });
      const { rows } = await db.pool.query<MessageRow>('SELECT * FROM pgmq.read($1, 30, 5, $2::jsonb)', [
        q,
        '{"kind":"b"}',
      ]);
      expect(rows.map((m) => m.msg_id)).toEqual([b]);
      const rest = await read(db.pool, q, 30, 5);
      expect(rest.map((m) => (m.message as { kind: string }).kind)).toEqual(['a']);
    });

    it('read_with_poll returns at once when a message is visible, and nothing after the wait', async () => {
      const q = await newQueue('poll');
      const id = await send(db.pool, q, { p: 1 });
      const { rows } = await db.pool.query<MessageRow>('SELECT * FROM pgmq.read_with_poll($1, 30, 5)', [q]);
      expect(rows.map((m) => m.msg_id)).toEqual([id]);
      const started = Date.now();
      const { rows: none } = await db.pool.query<MessageRow>(
        'SELECT * FROM pgmq.read_with_poll($1, 30, 5, 1, 50)',
        [q],
      );
      expect(none).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    });
  });

  describe('pop', () => {
    it('returns and removes the oldest visible messages, one by default', async () => {
      const q = await newQueue('pop');
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await send(db.pool, q, { i }));
      await read(db.pool, q, 300, 1); // ids[0] now invisible
      const one = await db.pool.query<MessageRow>('SELECT * FROM pgmq.pop($1)', [q]);
      expect(one.rows.map((m) => m.msg_id)).toEqual([ids[1]]);
      const two = await db.pool.query<MessageRow>('SELECT * FROM pgmq.pop($1, 5)', [q]);
      expect(two.rows.map((m) => m.msg_id).sort()).toEqual([ids[2], ids[3]].sort());
      expect((await queueRows(db.pool, q)).map((m) => m.msg_id)).toEqual([ids[0]]);
      expect(await archiveRows(db.pool, q)).toEqual([]);
    });
  });

  describe('set_vt', () => {
    it('moves the visibility timeout and returns the message; no row for an unknown id', async () => {
      const q = await newQueue('setvt');
      const id = await send(db.pool, q, { s: 1 });
      const { rows } = await db.pool.query<MessageRow>(
        'SELECT * FROM pgmq.set_vt($1, $2::bigint, $3::integer)',
        [q, id, 600],
      );
      expect(rows.map((m) => m.msg_id)).toEqual([id]);
      expect(rows[0]!.read_ct).toBe(0);
      const [stored] = await queueRows(db.pool, q);
      expect(stored!.vt.getTime()).toBe(rows[0]!.vt.getTime());
      expect(secondsBetween(stored!.enqueued_at, stored!.vt)).toBeGreaterThan(599);
      expect(await read(db.pool, q, 30, 1)).toEqual([]);
      // Back to visible now.
      await db.pool.query('SELECT pgmq.set_vt($1, $2::bigint, 0)', [q, id]);
      expect((await read(db.pool, q, 30, 1)).map((m) => m.msg_id)).toEqual([id]);
      const none = await db.pool.query('SELECT * FROM pgmq.set_vt($1, 999999::bigint, 10)', [q]);
      expect(none.rows).toEqual([]);
    });
  });

  describe('archive', () => {
    it('moves one message to the archive with archived_at, keeping its fields', async () => {
      const q = await newQueue('arch');
      const id = await send(db.pool, q, { a: 1 });
      await db.pool.query('SELECT pgmq.send($1, $2::jsonb, $3::jsonb)', [q, '{"keep":1}', '{"h":1}']);
      const [m] = await read(db.pool, q, 30, 1);
      const before = await db.pool.query<{ now: Date }>('SELECT clock_timestamp() AS now');
      const { rows } = await db.pool.query<{ archive: boolean }>('SELECT pgmq.archive($1, $2::bigint)', [
        q,
        id,
      ]);
      expect(rows[0]!.archive).toBe(true);
      const again = await db.pool.query<{ archive: boolean }>('SELECT pgmq.archive($1, $2::bigint)', [q, id]);
      expect(again.rows[0]!.archive).toBe(false);
      const archived = await archiveRows(db.pool, q);
      expect(archived).toHaveLength(1);
      const a = archived[0]!;
      expect([a.msg_id, a.read_ct, a.message, a.headers]).toEqual([id, 1, { a: 1 }, null]);
      expect(a.enqueued_at.getTime()).toBe(m!.enqueued_at.getTime());
      expect(a.vt.getTime()).toBe(m!.vt.getTime());
      expect(a.last_read_at!.getTime()).toBe(m!.last_read_at!.getTime());
      expect(a.archived_at.getTime()).toBeGreaterThanOrEqual(before.rows[0]!.now.getTime() - 1000);
      expect((await queueRows(db.pool, q)).map((r) => r.message)).toEqual([{ keep: 1 }]);
    });

    it('archives an array of ids and returns those it moved', async () => {
      const q = await newQueue('arch_many');
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await send(db.pool, q, { i }));
      const { rows } = await db.pool.query<{ archive: string }>(
        'SELECT * FROM pgmq.archive($1, $2::bigint[])',
        [q, [ids[0], ids[2], '987654']],
      );
      expect(rows.map((r) => r.archive).sort()).toEqual([ids[0], ids[2]].sort());
      expect((await archiveRows(db.pool, q)).map((r) => r.msg_id)).toEqual([ids[0], ids[2]]);
      expect((await queueRows(db.pool, q)).map((r) => r.msg_id)).toEqual([ids[1], ids[3]]);
    });
  });

  describe('delete', () => {
    it('deletes one id (true, then false) or an array (the ids deleted), archiving nothing', async () => {
      const q = await newQueue('del');
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await send(db.pool, q, { i }));
      const one = await db.pool.query<{ delete: boolean }>('SELECT pgmq.delete($1, $2::bigint)', [q, ids[0]]);
      expect(one.rows[0]!.delete).toBe(true);
      const again = await db.pool.query<{ delete: boolean }>('SELECT pgmq.delete($1, $2::bigint)', [
        q,
        ids[0],
      ]);
      expect(again.rows[0]!.delete).toBe(false);
      const many = await db.pool.query<{ delete: string }>('SELECT * FROM pgmq.delete($1, $2::bigint[])', [
        q,
        [ids[1], ids[3], ids[0]],
      ]);
      expect(many.rows.map((r) => r.delete).sort()).toEqual([ids[1], ids[3]].sort());
      expect((await queueRows(db.pool, q)).map((r) => r.msg_id)).toEqual([ids[2]]);
      expect(await archiveRows(db.pool, q)).toEqual([]);
    });
  });
});
