// Migration 0007: claims and completions reach their items by primary key whatever the table's
// statistics say. The adverse case: ANALYZE run while no item was running (here: all queued;
// in a long-lived table: nearly all completed), so `running` looks rare. Before 0007 a
// completion then planned a sequential scan of work_items (inside a nested loop over its batch). The
// statement counters of the test's own transaction tell which plan ran: no sequential scan of
// work_items, and no more primary-key entries read than the items in hand.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { WorkItems } from '../../src/work/work-items.js';
import { type TestDatabase, testKind } from '../support/database.js';
import { item, useWorkDatabase } from './factory.js';

let db: TestDatabase;
let work: WorkItems;

useWorkDatabase((d, w) => ((db = d), (work = w)));

/** This transaction's scans of work_items and its primary key so far. */
async function scans(client: pg.PoolClient): Promise<{ seqScans: number; keyEntries: number }> {
  const { rows } = await client.query<{ seq: string; key: string }>(
    `SELECT pg_stat_get_xact_numscans('work_items'::regclass) AS seq,
            pg_stat_get_xact_tuples_returned('work_items_pkey'::regclass) AS key`,
  );
  return { seqScans: Number(rows[0]!.seq), keyEntries: Number(rows[0]!.key) };
}

describe(`work plans (${testKind})`, () => {
  it('claims and completions read only their own items by key, with statistics that make running rows look rare', async () => {
    // 4,000 items queued and analyzed as such (as when statistics are gathered after a burst
    // of submits), then claimed and completed a batch at a time.
    const total = 4_000;
    for (let i = 0; i < total; i += 500) await work.submitBatch(Array.from({ length: 500 }, () => item()));
    await db.pool.query('ANALYZE work_items');
    const batch = 40;
    const rounds = 8; // past the five custom plans after which a session may keep a generic one
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const before = await scans(client);
      let claimedIds: Array<{ id: string; attempts: number; claimedAt: number }> = [];
      for (let k = 0; k < rounds; k++) {
        const { rows } = await client.query<{ id: string; attempts: number }>(
          'SELECT id, attempts FROM animus_work_claim($1, $2, $3)',
          ['work', 30, batch],
        );
        expect(rows).toHaveLength(batch);
        claimedIds = claimedIds.concat(rows.map((r) => ({ ...r, claimedAt: Date.now() })));
      }
      const afterClaims = await scans(client);
      expect(afterClaims.seqScans - before.seqScans).toBe(0);
      // One entry per claimed item (each looked up by key), not the table.
      expect(afterClaims.keyEntries - before.keyEntries).toBeLessThanOrEqual(batch * rounds);
      expect(afterClaims.keyEntries - before.keyEntries).toBeGreaterThanOrEqual(batch * rounds);

      for (let k = 0; k < rounds; k++) {
        const done = await work.completeMany(
          claimedIds.slice(k * batch, (k + 1) * batch).map((c) => ({ item: c })),
          { tx: client },
        );
        expect(done).toHaveLength(batch);
      }
      const afterCompletions = await scans(client);
      expect(afterCompletions.seqScans - afterClaims.seqScans).toBe(0);
      // An item's entries: its row's and, when the claim's update was not HOT, its new version's.
      expect(afterCompletions.keyEntries - afterClaims.keyEntries).toBeLessThanOrEqual(2 * batch * rounds);
      await client.query('COMMIT');
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
    const { rows } = await db.pool.query<{ state: string; n: number }>(
      'SELECT state, count(*)::int AS n FROM work_items GROUP BY state',
    );
    expect(rows.sort((a, b) => a.state.localeCompare(b.state))).toEqual([
      { state: 'completed', n: batch * rounds },
      { state: 'queued', n: total - batch * rounds },
    ]);
  });
});
