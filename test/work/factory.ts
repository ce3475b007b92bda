// Small builders for work tests.
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { SubmitItem } from '../../src/work/types.js';
import { WorkItems, type WorkItemsOptions } from '../../src/work/work-items.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let n = 0;

/** A valid submit item; override what the test is about. */
export function item(overrides: Partial<SubmitItem> = {}): SubmitItem {
  n++;
  return { workType: 'test.echo', source: 'test', params: { n }, ...overrides };
}

/** Counts rows and messages so a test can prove nothing was written. */
export async function counts(
  pool: { query: (sql: string) => Promise<{ rows: Array<Record<string, unknown>> }> },
  queue = 'work',
): Promise<{ items: number; messages: number }> {
  const a = await pool.query('SELECT count(*)::int AS n FROM work_items');
  const b = await pool.query(`SELECT count(*)::int AS n FROM pgmq.q_${queue}`);
  return { items: a.rows[0]!.n as number, messages: b.rows[0]!.n as number };
}

/**
 * One migrated database for the calling test file with a WorkItems client on it and its
 * queues created; `reset` empties items and queues before each test. The setter hands both
 * to the file's own variables so test bodies read plainly.
 */
export function useWorkDatabase(
  assign: (db: TestDatabase, work: WorkItems) => void,
  options: { work?: Omit<WorkItemsOptions, 'pool'>; queues?: string[]; reset?: boolean } = {},
): void {
  const queues = options.queues ?? ['work'];
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    const work = new WorkItems({ pool: db.pool, ...options.work });
    for (const q of queues) await work.createQueue(q);
    assign(db, work);
  });
  afterAll(async () => db?.close());
  if (options.reset !== false) {
    beforeEach(async () => {
      await db!.pool.query('TRUNCATE work_items CASCADE');
      for (const q of queues) await db!.pool.query('SELECT pgmq.purge_queue($1)', [q]);
    });
  }
}
