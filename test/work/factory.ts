// Small builders for work tests.
import type { SubmitItem } from '../../src/work/types.js';

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
