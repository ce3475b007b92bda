// pgmq conformance under concurrency and for insert notifications: producers and many readers
// on separate connections (server: 4 + 16 connections; embedded: its single connection)
// deliver every message exactly once; enable_notify_insert notifies `pgmq.q_<name>.INSERT`
// once per throttle window, and disable_notify_insert stops it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { archiveRows, pgmqTarget, queueName, queueRows } from './support.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

describe(`pgmq concurrency (${pgmqTarget})`, () => {
  it('delivers every message exactly once to concurrent readers on separate connections', async () => {
    const server = db.kind === 'server';
    const total = server ? 4000 : 400;
    const producers = server ? 4 : 1;
    const readers = server ? 16 : 3;
    const pool = server ? await db.newPool(producers + readers) : db.pool;
    console.log(
      `[pgmq] exactly-once: ${total} messages, ${producers} producers, ${readers} readers, ${server ? producers + readers : 1} connection(s)`,
    );
    const q = queueName('once');
    await pool.query('SELECT pgmq.create($1)', [q]);

    const sent: string[] = [];
    let producing = producers;
    const produce = async (p: number) => {
      const client = await pool.connect();
      try {
        const share = total / producers;
        for (let i = 0; i < share; i += 50) {
          const msgs = Array.from({ length: 50 }, (_, k) => JSON.stringify({ p, i: i + k }));
          const { rows } = await client.query<{ id: string }>(
            'SELECT id FROM pgmq.send_batch($1, $2::jsonb[]) AS id',
            [q, msgs],
          );
          sent.push(...rows.map((r) => r.id));
        }
      } finally {
        client.release();
        producing -= 1;
      }
    };

    const delivered: string[] = [];
    const consume = async (r: number) => {
      const client = await pool.connect();
      // Half the readers hold their locks in an explicit transaction (read + archive), half
      // read in autocommit (the lock ends with the statement; vt keeps the message hidden).
      const inTransaction = r % 2 === 0;
      const qty = r % 3 === 0 ? 1 : 7;
      try {
        for (;;) {
          const stillProducing = producing > 0;
          if (inTransaction) await client.query('BEGIN');
          const { rows } = await client.query<{ msg_id: string }>(
            'SELECT msg_id FROM pgmq.read($1, 120, $2)',
            [q, qty],
          );
          const ids = rows.map((m) => m.msg_id);
          if (ids.length > 0) {
            const { rows: done } = await client.query<{ id: string }>(
              'SELECT id FROM pgmq.archive($1, $2::bigint[]) AS id',
              [q, ids],
            );
            expect(done).toHaveLength(ids.length);
          }
          if (inTransaction) await client.query('COMMIT');
          delivered.push(...ids);
          if (ids.length === 0) {
            if (!stillProducing) return;
            await new Promise((resolve) => setTimeout(resolve, 2)); // poll interval while producers run
          }
        }
      } finally {
        client.release();
      }
    };

    await Promise.all([
      ...Array.from({ length: producers }, (_, p) => produce(p)),
      ...Array.from({ length: readers }, (_, r) => consume(r)),
    ]);

    expect(sent).toHaveLength(total);
    expect(new Set(delivered).size).toBe(delivered.length); // nobody got a message twice
    expect([...delivered].sort()).toEqual([...sent].sort()); // and every message was delivered
    expect(await queueRows(pool, q)).toEqual([]);
    const archived = await archiveRows(pool, q);
    expect(archived).toHaveLength(total);
    expect(archived.every((m) => m.read_ct === 1)).toBe(true); // read once each
  });
});

/** Collects notifications on one connection; waits for a sentinel instead of sleeping. */
class Notifications {
  private seen: { channel: string; payload: string }[] = [];
  private wake: (() => void) | undefined;

  constructor(client: pg.ClientBase) {
    client.on('notification', (n) => {
      this.seen.push({ channel: n.channel, payload: n.payload ?? '' });
      this.wake?.();
    });
  }

  /**
   * Sends a sentinel on `channel` after everything before it committed, waits for it, and
   * returns (and forgets) the notifications that arrived before it. Notifications reach a
   * listener in commit order, so nothing sent earlier can arrive after the sentinel.
   */
  async drain(
    sender: Pick<pg.ClientBase, 'query'>,
    channel: string,
  ): Promise<{ channel: string; payload: string }[]> {
    const token = `sentinel-${Math.random()}`;
    await sender.query('SELECT pg_notify($1, $2)', [channel, token]);
    const deadline = Date.now() + 10_000;
    while (!this.seen.some((n) => n.payload === token)) {
      if (Date.now() > deadline) throw new Error('sentinel notification never arrived');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    const at = this.seen.findIndex((n) => n.payload === token);
    const before = this.seen.slice(0, at);
    this.seen = this.seen.slice(at + 1);
    return before;
  }
}

describe(`pgmq insert notifications (${pgmqTarget})`, () => {
  let listener: pg.ClientBase;
  let sender: Pick<pg.ClientBase, 'query'>;
  let notes: Notifications;
  let release: () => Promise<void>;

  beforeAll(async () => {
    if (db.kind === 'server') {
      // A listener on its own connection, senders on the pool: truly cross-connection.
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      listener = client;
      sender = db.pool;
      release = () => client.end();
    } else {
      // Embedded: one connection, which listens and sends.
      const client = await db.pool.connect();
      listener = client;
      sender = client;
      release = async () => client.release();
    }
    notes = new Notifications(listener);
  });

  afterAll(async () => {
    await release?.();
  });

  async function queueWithNotify(tag: string, throttleMs?: number): Promise<{ q: string; channel: string }> {
    const q = queueName(tag);
    await sender.query('SELECT pgmq.create($1)', [q]);
    if (throttleMs === undefined) await sender.query('SELECT pgmq.enable_notify_insert($1)', [q]);
    else await sender.query('SELECT pgmq.enable_notify_insert($1, $2)', [q, throttleMs]);
    const channel = `pgmq.q_${q}.INSERT`;
    await listener.query(`LISTEN "${channel}"`);
    return { q, channel };
  }

  it('notifies on every inserting statement with a zero throttle', async () => {
    const { q, channel } = await queueWithNotify('notify0', 0);
    for (let i = 0; i < 3; i++) await sender.query('SELECT pgmq.send($1, $2::jsonb)', [q, '{}']);
    const got = await notes.drain(sender, channel);
    expect(got).toEqual(Array.from({ length: 3 }, () => ({ channel, payload: '' })));
    await sender.query('SELECT pgmq.send_batch($1, $2::jsonb[])', [q, ['{}', '{}', '{}', '{}']]);
    expect(await notes.drain(sender, channel)).toHaveLength(1);
  });

  it('notifies once per throttle window, and again when the window has passed', async () => {
    const { q, channel } = await queueWithNotify('notify_win', 3_600_000);
    for (let i = 0; i < 5; i++) await sender.query('SELECT pgmq.send($1, $2::jsonb)', [q, '{}']);
    expect(await notes.drain(sender, channel)).toHaveLength(1);
    // Let the hour pass: move the last notification back by two hours.
    await sender.query(
      `UPDATE pgmq.notify_insert_throttle SET last_notified_at = last_notified_at - interval '2 hours'
       WHERE queue_name = $1`,
      [q],
    );
    for (let i = 0; i < 3; i++) await sender.query('SELECT pgmq.send($1, $2::jsonb)', [q, '{}']);
    expect(await notes.drain(sender, channel)).toHaveLength(1);
  });

  it('defaults the throttle to 250 ms and stops notifying once disabled', async () => {
    const { q, channel } = await queueWithNotify('notify_off');
    const { rows } = await sender.query<{ ms: number }>(
      'SELECT throttle_interval_ms AS ms FROM pgmq.notify_insert_throttle WHERE queue_name = $1',
      [q],
    );
    expect(rows[0]?.ms).toBe(250);
    await sender.query('SELECT pgmq.disable_notify_insert($1)', [q]);
    for (let i = 0; i < 2; i++) await sender.query('SELECT pgmq.send($1, $2::jsonb)', [q, '{}']);
    expect(await notes.drain(sender, channel)).toEqual([]);
    const gone = await sender.query('SELECT 1 FROM pgmq.notify_insert_throttle WHERE queue_name = $1', [q]);
    expect(gone.rows).toEqual([]);
  });
});
