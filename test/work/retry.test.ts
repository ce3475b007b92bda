import { describe, expect, it } from 'vitest';
import { backoffSeconds } from '../../src/work/backoff.js';
import type { WorkItems } from '../../src/work/work-items.js';
import { type TestDatabase, testKind } from '../support/database.js';
import { counts, item, useWorkDatabase } from './factory.js';

let db: TestDatabase;
let work: WorkItems;

/** Seconds until the message of `msgId` becomes visible, read from the queue table. */
async function hiddenFor(msgId: bigint): Promise<number> {
  const { rows } = await db.pool.query<{ s: number }>(
    'SELECT extract(epoch FROM vt - now())::float8 AS s FROM pgmq.q_work WHERE msg_id = $1',
    [String(msgId)],
  );
  return rows[0]!.s;
}

// A pinned "random" makes the jittered back-off exact: no sleeps, no flakiness.
useWorkDatabase((d, w) => ((db = d), (work = w)), {
  work: { backoff: { baseSeconds: 10, maxSeconds: 100, random: () => 1 } },
});

describe('back-off arithmetic', () => {
  it('doubles per attempt, caps, and jitters between half and the whole ceiling', () => {
    expect(
      [1, 2, 3, 4, 5].map((a) => backoffSeconds(a, { baseSeconds: 2, maxSeconds: 20, random: () => 1 })),
    ).toEqual([2, 4, 8, 16, 20]);
    expect(
      [1, 2, 3].map((a) => backoffSeconds(a, { baseSeconds: 2, maxSeconds: 20, random: () => 0 })),
    ).toEqual([1, 2, 4]);
    for (let i = 0; i < 100; i++) {
      const s = backoffSeconds(3, { baseSeconds: 4 });
      expect(s).toBeGreaterThanOrEqual(8);
      expect(s).toBeLessThanOrEqual(16);
    }
  });
});

describe(`retries and dead items (${testKind})`, () => {
  it('a failed attempt goes back to queued, hidden for the back-off, and is claimed again as attempt 2', async () => {
    const sub = await work.submit(item({ maxAttempts: 3 }));
    if (sub.status !== 'queued') throw new Error('expected queued');
    const [a1] = await work.read('work', { vt: 30 });
    expect(await work.fail(a1!, new Error('transient'))).toBe('queued');
    const row = await work.get(sub.id);
    expect(row).toMatchObject({ state: 'queued', attempts: 1 });
    expect(row.outcomeError).toMatch(/transient/);
    const hidden = await hiddenFor(sub.msgId);
    expect(hidden).toBeGreaterThan(8); // back-off for attempt 1 = 10 s
    expect(hidden).toBeLessThanOrEqual(10.5);
    expect(await work.read('work', { vt: 30 })).toEqual([]);
    // Make it visible now (as the clock would after 10 s) and claim attempt 2.
    await db.pool.query('SELECT pgmq.set_vt($1, $2::bigint, 0)', ['work', String(sub.msgId)]);
    const [a2] = await work.read('work', { vt: 30 });
    expect(a2).toMatchObject({ id: sub.id, attempts: 2, readCount: 2 });
    expect(await work.fail(a2!, new Error('again'))).toBe('queued');
    expect(await hiddenFor(sub.msgId)).toBeGreaterThan(18); // attempt 2 → 20 s
  });

  it('dead after max attempts: error kept on the row, message archived', async () => {
    const sub = await work.submit(item({ maxAttempts: 2 }));
    const [a1] = await work.read('work', { vt: 30 });
    await work.fail(a1!, new Error('one'), { backoffSeconds: 0 });
    const [a2] = await work.read('work', { vt: 30 });
    expect(await work.fail(a2!, new Error('two'))).toBe('dead');
    const row = await work.get(sub.id);
    expect(row).toMatchObject({ state: 'dead', attempts: 2 });
    expect(row.outcomeError).toMatch(/two/);
    expect(row.resolvedAt).toBeInstanceOf(Date);
    expect(await counts(db.pool)).toEqual({ items: 1, messages: 0 });
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM pgmq.a_work');
    expect(rows[0].n).toBe(1);
  });

  it('a permanent failure skips the remaining attempts', async () => {
    const sub = await work.submit(item({ maxAttempts: 5 }));
    const [a1] = await work.read('work', { vt: 30 });
    expect(await work.fail(a1!, new Error('bad input'), { permanent: true })).toBe('dead');
    expect((await work.get(sub.id)).attempts).toBe(1);
  });

  it('a worker that keeps crashing: once the read count passes max attempts the item ends dead', async () => {
    const sub = await work.submit(item({ maxAttempts: 2 }));
    // Each read with vt 0 is a claim whose worker "dies" (never settles) and whose lease expires at once.
    expect((await work.read('work', { vt: 0 }))[0]?.attempts).toBe(1);
    expect((await work.read('work', { vt: 0 }))[0]?.attempts).toBe(2);
    expect(await work.read('work', { vt: 0 })).toEqual([]); // third delivery: given up
    const row = await work.get(sub.id);
    expect(row.state).toBe('dead');
    expect(row.outcomeError).toMatch(/delivered 2 times without being settled/);
    expect((await counts(db.pool)).messages).toBe(0);
  });

  it('a message whose item already ended is archived, not handed out', async () => {
    const sub = await work.submit(item());
    if (sub.status !== 'queued') throw new Error('expected queued');
    // Simulate a stray message: the item is completed by hand but its message is still there.
    await db.pool.query("UPDATE work_items SET state = 'completed', resolved_at = now() WHERE id = $1", [
      sub.id,
    ]);
    expect(await work.read('work', { vt: 30 })).toEqual([]);
    expect((await counts(db.pool)).messages).toBe(0);
  });
});
