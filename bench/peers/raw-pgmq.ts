// Raw pgmq, the floor under animus: pgmq.send / send_batch / read / archive called directly
// through `pg` on the same database animus uses (its pgmq-compatible schema). Workers are
// plain loops; an idle one wakes on pgmq's insert notification (LISTEN), polling as a backstop.
import pg from 'pg';
import type { QueueSystem, RunningWorker, WorkerMode } from './rows.mjs';

const CREATE = 'SELECT pgmq.create($1)';
const SEND = 'SELECT pgmq.send($1, $2::jsonb) AS msg_id';
const SEND_BATCH = 'SELECT pgmq.send_batch($1, $2::jsonb[]) AS msg_id';
const READ = 'SELECT msg_id, message FROM pgmq.read($1, 30, $2)';
const ARCHIVE_ONE = 'SELECT pgmq.archive($1, $2::bigint) AS ok';
const ARCHIVE_MANY = 'SELECT pgmq.archive($1, $2::bigint[]) AS ok';
const ENABLE_NOTIFY = 'SELECT pgmq.enable_notify_insert($1, 0)';
const METRICS = 'SELECT queue_length FROM pgmq.metrics($1)';
const PURGE = 'SELECT pgmq.purge_queue($1)';

const QUEUE = /^[a-z_][a-z0-9_]{0,46}$/;

function queueTable(queue: string): string {
  if (!QUEUE.test(queue)) throw new Error(`queue: '${queue}' is not a plain lower-case pgmq queue name`);
  return `pgmq."q_${queue}"`;
}

/** Worker shapes: loops × messages per read. */
export const RAW_SETTINGS: Record<WorkerMode, { loops: number; qty: number }> = {
  single: { loops: 8, qty: 1 },
  batched: { loops: 4, qty: 500 },
  latency: { loops: 1, qty: 1 },
};

/**
 * Wakes sleeping loops when a notification arrives; a timer is only the backstop. A
 * notification that arrives while no loop sleeps is kept, so the next sleep returns at once.
 */
class Waker {
  #waiters: Array<() => void> = [];
  #pending = false;
  wake(): void {
    if (this.#waiters.length === 0) this.#pending = true;
    for (const w of this.#waiters.splice(0)) w();
  }
  sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** The raw pgmq system over `pool` (needs at least 10 connections). */
export function rawPgmq(pool: pg.Pool): QueueSystem {
  return {
    name: 'raw pgmq',
    async prepare(queue) {
      queueTable(queue);
      await pool.query(CREATE, [queue]);
    },
    async submitOne(queue, i) {
      await pool.query(SEND, [queue, JSON.stringify({ i })]);
    },
    async submitMany(queue, items) {
      await pool.query(SEND_BATCH, [queue, items.map((i) => JSON.stringify({ i }))]);
    },
    async stored(queue) {
      const { rows } = await pool.query<{ i: number }>(
        `SELECT (message->>'i')::int AS i FROM ${queueTable(queue)}`,
      );
      return rows.map((r) => r.i);
    },
    async discard(queue) {
      await pool.query(PURGE, [queue]);
    },
    async unsettled(queue) {
      const { rows } = await pool.query<{ queue_length: string }>(METRICS, [queue]);
      return Number(rows[0]?.queue_length ?? 0);
    },
    async startWorker(queue, mode, onStart): Promise<RunningWorker> {
      const { loops, qty } = RAW_SETTINGS[mode];
      const waker = new Waker();
      const listener = new pg.Client(pool.options);
      await listener.connect();
      await listener.query(ENABLE_NOTIFY, [queue]);
      listener.on('notification', () => waker.wake());
      queueTable(queue); // validated: safe inside the quoted channel name
      await listener.query(`LISTEN "pgmq.q_${queue}.INSERT"`);
      let running = true;
      const loop = async () => {
        while (running) {
          const { rows } = await pool.query<{ msg_id: string; message: { i: number } }>(READ, [queue, qty]);
          if (rows.length === 0) {
            await waker.sleep(1000);
            continue;
          }
          for (const r of rows) onStart(r.message.i);
          if (qty === 1) await pool.query(ARCHIVE_ONE, [queue, rows[0]!.msg_id]);
          else await pool.query(ARCHIVE_MANY, [queue, rows.map((r) => r.msg_id)]);
        }
      };
      const all = Promise.all(Array.from({ length: loops }, loop));
      return {
        settings: { loops, qtyPerRead: qty, wakeUp: 'LISTEN pgmq insert notification, 1 s poll backstop' },
        async stop() {
          running = false;
          waker.wake();
          await all;
          await listener.end();
        },
      };
    },
  };
}
