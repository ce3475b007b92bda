import { describe, expect, it } from 'vitest';
import { WorkItems } from '../../src/work/work-items.js';
import { type TestDatabase, testKind } from '../support/database.js';
import { counts, item, useWorkDatabase } from './factory.js';

let db: TestDatabase;
let work: WorkItems;

useWorkDatabase((d, w) => ((db = d), (work = w)));

describe(`structural dedup (${testKind})`, () => {
  it('merges a submit into the active item of its key, keeping its own provenance and sending nothing', async () => {
    const first = await work.submit(item({ workType: 'sync', dedupKey: 'repo:1', source: 'webhook' }));
    const second = await work.submit(
      item({
        workType: 'sync',
        dedupKey: 'repo:1',
        source: 'schedule',
        triggerInfo: { cron: '0 * * * *' },
        params: { full: true },
      }),
    );
    expect(second).toEqual({ status: 'merged', id: expect.any(String), mergedInto: first.id });
    const row = await work.get(second.id);
    expect(row).toMatchObject({
      state: 'merged',
      mergedInto: first.id,
      source: 'schedule',
      triggerInfo: { cron: '0 * * * *' },
      params: { full: true },
    });
    expect(await counts(db.pool)).toEqual({ items: 2, messages: 1 });
    // Same key, another work type: independent.
    expect((await work.submit(item({ workType: 'other', dedupKey: 'repo:1' }))).status).toBe('queued');
  });

  it('a running item still holds its key; once it ends the key queues again', async () => {
    const a = await work.submit(item({ workType: 'sync', dedupKey: 'k' }));
    const [claimed] = await work.read('work', { vt: 30 });
    expect((await work.submit(item({ workType: 'sync', dedupKey: 'k' }))).status).toBe('merged');
    await work.complete(claimed!, null);
    const b = await work.submit(item({ workType: 'sync', dedupKey: 'k' }));
    expect(b.status).toBe('queued');
    expect(b.id).not.toBe(a.id);
    // Cancelled and dead items release the key too.
    await work.cancel(b.id);
    expect((await work.submit(item({ workType: 'sync', dedupKey: 'k' }))).status).toBe('queued');
  });

  it('dedups within one batch and against existing items', async () => {
    const existing = await work.submit(item({ workType: 'w', dedupKey: 'x' }));
    const results = await work.submitBatch([
      item({ workType: 'w', dedupKey: 'x' }),
      item({ workType: 'w', dedupKey: 'y' }),
      item({ workType: 'w', dedupKey: 'y' }),
      item({ workType: 'w' }),
      item({ workType: 'w' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['merged', 'queued', 'merged', 'queued', 'queued']);
    expect(results[0]).toMatchObject({ mergedInto: existing.id });
    expect(results[2]).toMatchObject({ mergedInto: results[1]!.id });
    expect(new Set(results.map((r) => r.id)).size).toBe(5);
    expect(await counts(db.pool)).toEqual({ items: 6, messages: 4 });
  });

  it('holds under concurrency: 1,000 concurrent submits of one key give one queued item, 999 merged, one message', async () => {
    // 20 connections on a server; the embedded database has one, so there the submits queue on it.
    const pools =
      db.kind === 'server' ? await Promise.all(Array.from({ length: 4 }, () => db.newPool(5))) : [db.pool];
    const clients = pools.map((pool) => new WorkItems({ pool }));
    await Promise.all(clients.map((c) => c.queues()));
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        clients[i % clients.length]!.submit(
          item({ workType: 'race', dedupKey: 'the-key', source: `src-${i}` }),
        ),
      ),
    );
    const queued = results.filter((r) => r.status === 'queued');
    const merged = results.filter((r) => r.status === 'merged');
    expect(queued).toHaveLength(1);
    expect(merged).toHaveLength(999);
    expect(new Set(merged.map((m) => (m.status === 'merged' ? m.mergedInto : '')))).toEqual(
      new Set([queued[0]!.id]),
    );
    expect(await counts(db.pool)).toEqual({ items: 1000, messages: 1 });
    const { rows } = await db.pool.query('SELECT count(DISTINCT source)::int AS n FROM work_items');
    expect(rows[0].n).toBe(1000); // every submit's provenance kept
  });

  it('concurrent batches racing on shared keys still leave one active item per key', async () => {
    const pools =
      db.kind === 'server' ? await Promise.all(Array.from({ length: 4 }, () => db.newPool(2))) : [db.pool];
    const clients = pools.map((pool) => new WorkItems({ pool }));
    await Promise.all(clients.map((c) => c.queues()));
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    await Promise.all(
      Array.from({ length: 8 }, (_, b) =>
        clients[b % clients.length]!.submitBatch(
          keys.map((k) => item({ workType: 'batch-race', dedupKey: k, source: `b${b}` })),
        ),
      ),
    );
    const { rows } = await db.pool.query(
      "SELECT dedup_key, count(*) FILTER (WHERE state = 'queued')::int AS active, count(*)::int AS total FROM work_items GROUP BY dedup_key",
    );
    expect(rows).toHaveLength(20);
    for (const r of rows) expect(r).toMatchObject({ active: 1, total: 8 });
    expect((await counts(db.pool)).messages).toBe(20);
  });

  it(
    testKind === 'server'
      ? 'a submit racing an uncommitted holder of its key waits, waits for it, then merges without sending (single and batch)'
      : 'a submit after a committed holder merges (the embedded database has one connection, so no two submits interleave)',
    async () => {
      if (db.kind !== 'server') {
        const a = await work.submit(item({ workType: 'tx-race', dedupKey: 'k' }));
        expect(await work.submit(item({ workType: 'tx-race', dedupKey: 'k' }))).toMatchObject({
          status: 'merged',
          mergedInto: a.id,
        });
        return;
      }
      for (const mode of ['single', 'batch'] as const) {
        await db.pool.query('TRUNCATE work_items CASCADE');
        await db.pool.query("SELECT pgmq.purge_queue('work')");
        const holderPool = await db.newPool(1);
        const holder = await holderPool.connect();
        try {
          await holder.query('BEGIN');
          const first = await new WorkItems({ pool: holderPool }).submit(
            item({ workType: 'tx-race', dedupKey: 'k' }),
            { tx: holder },
          );
          // Not committed yet: the racer cannot see it, blocks on the key.
          const racer =
            mode === 'single'
              ? work.submit(item({ workType: 'tx-race', dedupKey: 'k', source: 'racer' }))
              : work
                  .submitBatch([item({ workType: 'tx-race', dedupKey: 'k', source: 'racer' })])
                  .then((r) => r[0]!);
          await new Promise((r) => setTimeout(r, 200));
          await holder.query('COMMIT');
          const result = await racer;
          expect(result).toMatchObject({ status: 'merged', mergedInto: first.id });
          expect(await counts(db.pool)).toEqual({ items: 2, messages: 1 });
        } finally {
          holder.release();
        }
      }
    },
  );
});
