import { describe, expect, it } from 'vitest';
import type { WorkItems } from '../../src/work/work-items.js';
import { Worker } from '../../src/worker/worker.js';
import { type TestDatabase, testKind } from '../support/database.js';
import { item, useWorkDatabase } from '../work/factory.js';

let db: TestDatabase;
let work: WorkItems;

useWorkDatabase((d, w) => ((db = d), (work = w)), { reset: false });

async function firstHandled(w: Worker, done: Promise<number>, submitAt: () => number): Promise<number> {
  await w.start();
  // Let the worker go idle (its first read finds nothing) before submitting.
  await new Promise((r) => setTimeout(r, 200));
  await work.submit(item());
  const at = await done;
  await w.stop();
  return at - submitAt();
}

describe(`wake-ups (${testKind})`, () => {
  it(
    testKind === 'server'
      ? 'LISTEN on the insert notification wakes an idle worker long before its poll'
      : 'the embedded default (no cross-connection NOTIFY) falls back to polling',
    async () => {
      let resolveDone!: (t: number) => void;
      const done = new Promise<number>((r) => (resolveDone = r));
      let submittedAt = 0;
      const listen = db.kind === 'server';
      const w = new Worker(
        { work, pool: db.pool },
        {
          listen,
          // With LISTEN the poll is an hour away: only the notification can explain a fast pickup.
          pollIntervalMs: listen ? 3_600_000 : 100,
          handlers: { 'test.echo': async () => void resolveDone(Date.now()) },
        },
      );
      const originalSubmit = work.submit.bind(work);
      work.submit = async (...args) => {
        submittedAt = Date.now();
        return originalSubmit(...args);
      };
      const latency = await firstHandled(w, done, () => submittedAt);
      work.submit = originalSubmit;
      // Generous bounds: this checks the mechanism, not speed (the benchmark measures latency).
      expect(latency).toBeLessThan(listen ? 5_000 : 5_000);
      if (listen) {
        const { rows } = await db.pool.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()",
        );
        expect(rows[0].n).toBe(0); // the listener connection was closed on stop
      }
    },
  );
});
