// Interop with pgmq-js, a third-party pgmq client: it sends and animus reads, animus sends
// and it reads, on the same queue, through whichever pgmq is installed. The clients take
// turns (never at once), since the embedded database serves one session at a time.
import { Pgmq } from 'pgmq-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { archiveRows, type MessageRow, pgmqTarget, queueName, queueRows, read } from './support.js';

let db: TestDatabase;
let pgmqJs: Pgmq;

beforeAll(async () => {
  db = await createTestDatabase();
  const url = new URL(db.url);
  pgmqJs = await Pgmq.new(
    {
      host: url.hostname,
      port: Number(url.port || 5432),
      database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
      user: decodeURIComponent(url.username) || 'postgres',
      password: decodeURIComponent(url.password),
      ssl: false,
      max: 1,
      idleTimeoutMillis: 1000,
      connectionTimeoutMillis: 10_000,
    },
    // animus installed pgmq already (extension or compatible schema).
    { skipExtensionCreation: true },
  );
});

afterAll(async () => {
  await pgmqJs?.close();
  await db?.close();
});

describe(`pgmq-js interop (${pgmqTarget})`, () => {
  it('pgmq-js creates and sends; animus reads, archives and deletes', async () => {
    const q = queueName('js_to_animus');
    await pgmqJs.queue.create(q);
    const one = await pgmqJs.msg.send(q, { from: 'pgmq-js', n: 1 });
    const batch = await pgmqJs.msg.sendBatch(q, [{ n: 2 }, { n: 3 }]);
    const delayed = await pgmqJs.msg.send(q, { n: 4 }, 3600);
    expect(batch).toHaveLength(2);

    const got = await read(db.pool, q, 30, 10);
    expect(got.map((m) => Number(m.msg_id))).toEqual([one, ...batch]);
    expect(got.map((m) => m.message)).toEqual([{ from: 'pgmq-js', n: 1 }, { n: 2 }, { n: 3 }]);
    expect(got.every((m) => m.read_ct === 1 && m.headers === null)).toBe(true);

    await db.pool.query('SELECT pgmq.archive($1, $2::bigint)', [q, one]);
    await db.pool.query('SELECT pgmq.delete($1, $2::bigint[])', [q, batch]);
    expect((await archiveRows(db.pool, q)).map((m) => Number(m.msg_id))).toEqual([one]);
    expect((await queueRows(db.pool, q)).map((m) => Number(m.msg_id))).toEqual([delayed]);
    expect((await pgmqJs.queue.list()).map((x) => x.name)).toContain(q);
  });

  it('animus creates and sends; pgmq-js reads, sets vt, archives, deletes and pops', async () => {
    const q = queueName('animus_to_js');
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    const { rows } = await db.pool.query<{ id: string }>(
      'SELECT id FROM pgmq.send_batch($1, $2::jsonb[], $3::jsonb[]) AS id',
      [q, ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}'], ['{"t":1}', '{"t":2}', '{"t":3}', '{"t":4}']],
    );
    const ids = rows.map((r) => Number(r.id));

    const first = (await pgmqJs.msg.readBatch<{ n: number }>(q, 60, 2)).sort((a, b) => a.msgId - b.msgId);
    expect(first.map((m) => [m.msgId, m.message.n, m.readCount])).toEqual([
      [ids[0], 1, 1],
      [ids[1], 2, 1],
    ]);
    // pgmq-js hid them; animus sees the same.
    const stored = await queueRows(db.pool, q);
    expect(stored.find((m) => Number(m.msg_id) === ids[0])!.vt.getTime()).toBe(first[0]!.vt.getTime());

    const reset = await pgmqJs.msg.setVt<{ n: number }>(q, ids[0]!, 0);
    expect(reset?.msgId).toBe(ids[0]);
    expect(await pgmqJs.msg.archive(q, ids[0]!)).toBe(true);
    expect(await pgmqJs.msg.archiveBatch(q, [ids[1]!, 999_999])).toEqual([ids[1]]);
    const popped = await pgmqJs.msg.pop<{ n: number }>(q);
    expect(popped?.msgId).toBe(ids[2]);
    expect(await pgmqJs.msg.delete(q, ids[3]!)).toBe(true);
    expect(await pgmqJs.msg.deleteBatch(q, [ids[3]!])).toEqual([]);

    const archived = await archiveRows(db.pool, q);
    expect(archived.map((m) => [Number(m.msg_id), m.headers])).toEqual([
      [ids[0], { t: 1 }],
      [ids[1], { t: 2 }],
    ]);
    expect(await queueRows(db.pool, q)).toEqual([]);
  });

  it('pgmq-js metrics, purge and drop see what animus did', async () => {
    const q = queueName('js_admin');
    await db.pool.query('SELECT pgmq.create($1)', [q]);
    for (let i = 0; i < 3; i++) await db.pool.query('SELECT pgmq.send($1, $2::jsonb)', [q, `{"i":${i}}`]);
    const m = await pgmqJs.queue.getMetrics(q);
    expect(m).toMatchObject({ queueName: q, queueLength: 3, totalMessages: 3 });
    expect((await pgmqJs.queue.getAllMetrics()).map((x) => x.queueName)).toContain(q);
    await pgmqJs.queue.purge(q);
    const { rows } = await db.pool.query<MessageRow>('SELECT * FROM pgmq.read($1, 30, 5)', [q]);
    expect(rows).toEqual([]);
    await pgmqJs.queue.drop(q);
    const { rows: left } = await db.pool.query('SELECT 1 FROM pgmq.list_queues() WHERE queue_name = $1', [q]);
    expect(left).toEqual([]);
  });
});
