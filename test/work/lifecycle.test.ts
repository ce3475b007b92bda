import { describe, expect, it } from 'vitest';
import { IllegalTransitionError, NotFoundError } from '../../src/errors/index.js';
import type { WorkItems } from '../../src/work/work-items.js';
import { type TestDatabase, testKind } from '../support/database.js';
import { counts, item, useWorkDatabase } from './factory.js';

let db: TestDatabase;
let work: WorkItems;

useWorkDatabase((d, w) => ((db = d), (work = w)), { queues: ['work', 'other'] });

describe(`work lifecycle (${testKind})`, () => {
  it('submit → read → complete keeps provenance, outcome and archives the message', async () => {
    const res = await work.submit(
      item({ source: 'webhook:github', triggerInfo: { delivery: 'abc' }, params: { repo: 'x' } }),
    );
    expect(res.status).toBe('queued');
    if (res.status !== 'queued') return;
    const queued = await work.get(res.id);
    expect(queued).toMatchObject({
      state: 'queued',
      source: 'webhook:github',
      triggerInfo: { delivery: 'abc' },
      attempts: 0,
    });
    expect(queued.pgmqMsgId).toBe(res.msgId);

    const [claimed] = await work.read('work', { vt: 30, qty: 5 });
    expect(claimed).toMatchObject({ id: res.id, attempts: 1, readCount: 1, params: { repo: 'x' } });
    expect((await work.get(res.id)).state).toBe('running');

    await work.complete(claimed!, { answer: 42 });
    const done = await work.get(res.id);
    expect(done).toMatchObject({ state: 'completed', outcomeData: { answer: 42 } });
    expect(done.resolvedAt).toBeInstanceOf(Date);
    expect(done.outcomeMs).toBeGreaterThanOrEqual(0);
    const archived = await db.pool.query('SELECT msg_id, archived_at FROM pgmq.a_work WHERE msg_id = $1', [
      String(res.msgId),
    ]);
    expect(archived.rows).toHaveLength(1);
    expect(await counts(db.pool)).toEqual({ items: 1, messages: 0 });
  });

  it('rejects illegal transitions with the current state named, and writes nothing', async () => {
    const res = await work.submit(item());
    const [claimed] = await work.read('work', { vt: 30 });
    await work.complete(claimed!, null);
    await expect(work.complete(claimed!, null)).rejects.toThrow(IllegalTransitionError);
    await expect(work.complete(claimed!, null)).rejects.toThrow(/from 'completed' to 'completed'/);
    await expect(work.fail(claimed!, new Error('late'))).rejects.toThrow(/from 'completed'/);
    await expect(work.cancel(res.id)).rejects.toThrow(/from 'completed' to 'cancelled'/);
    expect((await work.get(res.id)).outcomeError).toBeNull();
  });

  it('a stale claim (lease lost, item re-claimed) cannot settle the item', async () => {
    await work.submit(item());
    const [first] = await work.read('work', { vt: 0 }); // visible again at once: as if its lease ran out
    const [second] = await work.read('work', { vt: 30 });
    expect(second!.id).toBe(first!.id);
    expect(second!.attempts).toBe(2);
    await expect(work.complete(first!, 'stale')).rejects.toThrow(IllegalTransitionError);
    await expect(work.heartbeat(first!, 30)).rejects.toThrow(IllegalTransitionError);
    await work.complete(second!, 'fresh');
    expect((await work.get(first!.id)).outcomeData).toBe('fresh');
  });

  it('cancel ends a queued item and deletes its message; a running one cannot be cancelled', async () => {
    const a = await work.submit(item());
    await work.cancel(a.id);
    expect((await work.get(a.id)).state).toBe('cancelled');
    expect(await counts(db.pool)).toEqual({ items: 1, messages: 0 });
    await work.submit(item());
    const [running] = await work.read('work', { vt: 30 });
    await expect(work.cancel(running!.id)).rejects.toThrow(/from 'running' to 'cancelled'/);
  });

  it('retry re-queues a dead item with a fresh message', async () => {
    const a = await work.submit(item({ maxAttempts: 1 }));
    const [c] = await work.read('work', { vt: 30 });
    expect(await work.fail(c!, new Error('nope'))).toBe('dead');
    const again = await work.retry(a.id);
    expect(again.msgId).toBeTypeOf('bigint');
    const row = await work.get(a.id);
    expect(row).toMatchObject({ state: 'queued', attempts: 0, outcomeError: null });
    const [c2] = await work.read('work', { vt: 30 });
    expect(c2!.id).toBe(a.id);
    await expect(work.retry(a.id)).rejects.toThrow(/from 'running' to 'queued'/);
  });

  it('get, list, children and merged read what was written', async () => {
    const parent = await work.submit(item({ workType: 'parent', dedupKey: 'p1', source: 'person:ann' }));
    const dup = await work.submit(
      item({ workType: 'parent', dedupKey: 'p1', source: 'agent:bob', params: { why: 'again' } }),
    );
    const child = await work.submit(item({ workType: 'child', parentId: parent.id, queue: 'other' }));
    expect((await work.children(parent.id)).map((c) => c.id)).toEqual([child.id]);
    const merged = await work.merged(parent.id);
    expect(merged.map((m) => [m.id, m.source, m.params])).toEqual([[dup.id, 'agent:bob', { why: 'again' }]]);
    expect((await work.list({ queue: 'other' })).map((w) => w.id)).toEqual([child.id]);
    expect((await work.list({ state: 'merged' })).map((w) => w.id)).toEqual([dup.id]);
    expect((await work.list({ workType: 'parent', limit: 1 })).length).toBe(1);
    await expect(work.get('00000000-0000-4000-8000-000000000000')).rejects.toThrow(NotFoundError);
    const stats = await work.stats();
    expect(stats.find((s) => s.queue === 'work')?.states).toMatchObject({ queued: 1, merged: 1 });
    expect(stats.find((s) => s.queue === 'other')?.queueLength).toBe(1);
  });

  it("a caller's transaction: rollback leaves neither row nor message, commit keeps both", async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await work.submit(item(), { tx: client });
      await work.submitBatch([item(), item()], { tx: client });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await counts(db.pool)).toEqual({ items: 0, messages: 0 });

    const c2 = await db.pool.connect();
    try {
      await c2.query('BEGIN');
      await work.submit(item(), { tx: c2 });
      await c2.query('COMMIT');
    } finally {
      c2.release();
    }
    expect(await counts(db.pool)).toEqual({ items: 1, messages: 1 });
  });

  it('archive and delete act on pgmq messages by id', async () => {
    const a = await work.submit(item());
    const b = await work.submit(item());
    if (a.status !== 'queued' || b.status !== 'queued') throw new Error('expected queued');
    expect(await work.archive('work', a.msgId)).toBe(true);
    expect(await work.delete('work', b.msgId)).toBe(true);
    expect(await work.delete('work', b.msgId)).toBe(false);
    expect((await counts(db.pool)).messages).toBe(0);
  });

  it('delayed submits stay invisible until their time (seconds and Date)', async () => {
    await work.submit(item({ delay: 60 }));
    await work.submit(item({ delay: new Date(Date.now() + 60_000) }));
    expect(await work.read('work', { vt: 30, qty: 10 })).toEqual([]);
    const { rows } = await db.pool.query<{ s: number }>(
      'SELECT extract(epoch FROM vt - now())::float8 AS s FROM pgmq.q_work ORDER BY msg_id',
    );
    for (const r of rows) expect(r.s).toBeGreaterThan(50);
  });
});
