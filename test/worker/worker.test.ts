import { createHook } from 'node:async_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PermanentFailure } from '../../src/errors/index.js';
import type { ClaimedItem } from '../../src/work/types.js';
import type { WorkItems } from '../../src/work/work-items.js';
import { type AttemptHook, Worker, type WorkerOptions, type WorkHandler } from '../../src/worker/worker.js';
import { type TestDatabase, testKind } from '../support/database.js';
import { counts, item, useWorkDatabase } from '../work/factory.js';

let db: TestDatabase;
let work: WorkItems;
const started: Worker[] = [];

function worker(options: WorkerOptions): Worker {
  const w = new Worker({ work, pool: db.pool }, { pollIntervalMs: 20, ...options });
  started.push(w);
  return w;
}

/** Resolves when `check` returns true, polling the database state (a signal, not a fixed sleep). */
async function until(check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function stateCounts(): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ state: string; n: number }>(
    'SELECT state, count(*)::int AS n FROM work_items GROUP BY state',
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

useWorkDatabase((d, w) => ((db = d), (work = w)), { work: { backoff: { baseSeconds: 0, maxSeconds: 0 } } });
afterEach(async () => {
  // A test must not leak a running worker.
  const leaked = started.filter((w) => w.running);
  await Promise.all(started.map((w) => w.stop({ timeoutMs: 1000 })));
  started.length = 0;
  expect(leaked.length, 'a worker was left running').toBe(0);
});

describe(`worker runtime (${testKind})`, () => {
  it('N workers × M items: every item handled exactly once', async () => {
    const calls = new Map<string, number>();
    const handlers = {
      'test.echo': async (it: ClaimedItem) => {
        calls.set(it.id, (calls.get(it.id) ?? 0) + 1);
        await new Promise((r) => setImmediate(r));
        return { ok: it.id };
      },
    };
    const total = 300;
    await work.submitBatch(Array.from({ length: total }, () => item()));
    const workers = [0, 1, 2].map(() => worker({ handlers, concurrency: 4, completeBatchSize: 5 }));
    await Promise.all(workers.map((w) => w.start()));
    await until(async () => (await stateCounts()).completed === total);
    await Promise.all(workers.map((w) => w.stop()));
    expect(calls.size).toBe(total);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    expect(workers.reduce((s, w) => s + w.stats.completed, 0)).toBe(total);
    expect(await counts(db.pool)).toEqual({ items: total, messages: 0 });
  });

  it('a thrown error retries; PermanentFailure and a missing handler end the item dead', async () => {
    let flaky = 0;
    const w = worker({
      handlers: {
        flaky: async () => {
          flaky++;
          if (flaky < 2) throw new Error('try again');
          return 'ok';
        },
        broken: async () => {
          throw new PermanentFailure('input can never work');
        },
      },
    });
    const a = await work.submit(item({ workType: 'flaky', maxAttempts: 3 }));
    const b = await work.submit(item({ workType: 'broken', maxAttempts: 3 }));
    const c = await work.submit(item({ workType: 'nobody.handles.this' }));
    await w.start();
    await until(async () => {
      const c = await stateCounts();
      return c.completed === 1 && c.dead === 2;
    });
    await w.stop();
    expect(await work.get(a.id)).toMatchObject({ state: 'completed', attempts: 2, outcomeData: 'ok' });
    expect(await work.get(b.id)).toMatchObject({ state: 'dead', attempts: 1 });
    expect((await work.get(b.id)).outcomeError).toMatch(/input can never work/);
    const dead = await work.get(c.id);
    expect(dead.state).toBe('dead');
    expect(dead.outcomeError).toMatch(/no handler for work type 'nobody\.handles\.this'/);
  });

  it('a handler may return its result or throw without a promise, or return any thenable', async () => {
    let syncThrows = 0;
    const handlers = {
      'sync.value': (it: ClaimedItem) => ({ n: (it.params as { n: number }).n }),
      'sync.nothing': () => {},
      'sync.throw': () => {
        syncThrows++;
        if (syncThrows < 2) throw new Error('sync failure');
        return 'second try';
      },
      'sync.permanent': () => {
        throw new PermanentFailure('never');
      },
      // Not a native promise: awaited all the same.
      thenable: (() => ({
        then: (resolve: (v: unknown) => void) => setImmediate(() => resolve('from then')),
      })) as unknown as WorkHandler,
    };
    for (const mode of [undefined, 'attempt', 'process'] as const) {
      const options: WorkerOptions = { handlers, completeBatchSize: 2 };
      if (mode === 'attempt')
        options.attempt = () => ({ run: (h, i, c) => h(i, c), completed() {}, failed() {} });
      if (mode === 'process') options.process = (_i, run) => run();
      syncThrows = 0;
      const ids = {
        value: (await work.submit(item({ workType: 'sync.value', params: { n: 7 } }))).id,
        nothing: (await work.submit(item({ workType: 'sync.nothing' }))).id,
        thrown: (await work.submit(item({ workType: 'sync.throw', maxAttempts: 3 }))).id,
        permanent: (await work.submit(item({ workType: 'sync.permanent', maxAttempts: 3 }))).id,
        thenable: (await work.submit(item({ workType: 'thenable' }))).id,
      };
      const w = worker(options);
      await w.start();
      await until(async () => {
        const c = await stateCounts();
        return c.completed === 4 && c.dead === 1;
      });
      await w.stop();
      expect(await work.get(ids.value), String(mode)).toMatchObject({
        state: 'completed',
        outcomeData: { n: 7 },
      });
      expect(await work.get(ids.nothing)).toMatchObject({ state: 'completed', outcomeData: null });
      expect(await work.get(ids.thrown)).toMatchObject({
        state: 'completed',
        attempts: 2,
        outcomeData: 'second try',
      });
      expect(await work.get(ids.permanent)).toMatchObject({ state: 'dead', attempts: 1 });
      expect(await work.get(ids.thenable)).toMatchObject({ state: 'completed', outcomeData: 'from then' });
      await db.pool.query('DELETE FROM work_items');
    }
  });
  it('graceful stop: takes nothing new, waits for in-flight work, which completes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let startedCount = 0;
    const w = worker({
      concurrency: 2,
      handlers: {
        'test.echo': async () => {
          startedCount++;
          await gate;
          return 'done';
        },
      },
    });
    await work.submitBatch([item(), item(), item(), item()]);
    await w.start();
    await until(() => startedCount === 2);
    const stopping = w.stop({ timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    release();
    await stopping;
    expect(startedCount).toBe(2);
    expect(await stateCounts()).toEqual({ completed: 2, queued: 2 });
  });

  it('stop past its timeout aborts handlers; their items come back after the visibility timeout', async () => {
    let aborted = 0;
    const w = worker({
      vt: 1,
      handlers: {
        'test.echo': (_it, ctx) =>
          new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => {
              aborted++;
              reject(new Error('aborted'));
            });
          }),
      },
    });
    const sub = await work.submit(item());
    await w.start();
    await until(async () => (await stateCounts()).running === 1);
    await w.stop({ timeoutMs: 50 });
    expect(aborted).toBe(1);
    expect((await work.get(sub.id)).state).toBe('running'); // not settled: left to come back
    const w2 = worker({ handlers: { 'test.echo': async () => 'second time' } });
    await w2.start();
    await until(async () => (await stateCounts()).completed === 1);
    await w2.stop();
    expect(await work.get(sub.id)).toMatchObject({ attempts: 2, outcomeData: 'second time' });
  });

  it('a handler that returns its result makes no promise: a claimed batch is handled and settled synchronously', async () => {
    // Promises made while the worker runs a claimed batch's handlers, from the first handler's
    // call to the last one's (a batch is dispatched in one synchronous loop): the worker's own
    // per-item work, and nothing else.
    const batch = 50;
    let calls = 0;
    let promises = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises++;
      },
    });
    const w = worker({
      concurrency: batch,
      batchSize: batch,
      completeBatchSize: batch,
      handlers: {
        'test.echo': (it) => {
          calls++;
          if (calls === 1) hook.enable();
          if (calls === batch) hook.disable();
          return { ok: it.id };
        },
      },
    });
    await work.submitBatch(Array.from({ length: batch }, () => item()));
    try {
      await w.start();
      await until(async () => (await stateCounts()).completed === batch);
      await w.stop();
    } finally {
      hook.disable();
    }
    expect(calls).toBe(batch);
    expect(promises).toBe(0);
  });

  it('a handler that never reads ctx.signal costs no AbortController; one that reads it late sees the abort', async () => {
    const Original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const w = worker({ concurrency: 8, handlers: { 'test.echo': async (it) => ({ ok: it.id }) } });
      await work.submitBatch(Array.from({ length: 20 }, () => item()));
      await w.start();
      await until(async () => (await stateCounts()).completed === 20);
      await w.stop();
      expect(made).toBe(0);

      // Aborted before it looked: the signal it then reads is already aborted, with the reason.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let seen: { aborted: boolean; reason: unknown } | undefined;
      const slow = worker({
        vt: 1,
        handlers: {
          'test.echo': async (_it, ctx) => {
            await gate;
            seen = { aborted: ctx.signal.aborted, reason: ctx.signal.reason };
          },
        },
      });
      const sub = await work.submit(item());
      await slow.start();
      await until(async () => (await stateCounts()).running === 1);
      const stopping = slow.stop({ timeoutMs: 50 });
      await new Promise((r) => setTimeout(r, 150));
      release();
      await stopping;
      expect(made).toBe(1);
      expect(seen?.aborted).toBe(true);
      expect((seen?.reason as Error).message).toBe('worker stopped');
      expect((await work.get(sub.id)).state).toBe('running'); // aborted: not settled
    } finally {
      globalThis.AbortController = Original;
    }
  });
  it('heartbeats keep a long handler invisible past its visibility timeout', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = worker({
      vt: 1,
      heartbeatMs: 200,
      handlers: { 'test.echo': async () => gate.then(() => 'slow') },
    });
    const sub = await work.submit(item());
    if (sub.status !== 'queued') throw new Error('expected queued');
    await w.start();
    await until(async () => (await stateCounts()).running === 1);
    // Wait until well past the 1 s visibility timeout, checking that no one else could claim it.
    const until1500 = Date.now() + 1500;
    while (Date.now() < until1500) {
      const { rows } = await db.pool.query<{ visible: boolean }>(
        'SELECT vt <= now() AS visible FROM pgmq.q_work WHERE msg_id = $1',
        [String(sub.msgId)],
      );
      expect(rows[0]!.visible).toBe(false);
      await new Promise((r) => setTimeout(r, 100));
    }
    release();
    await until(async () => (await stateCounts()).completed === 1);
    await w.stop();
    expect((await work.get(sub.id)).attempts).toBe(1);
  });

  it('one heartbeat timer serves every item in flight, and each item is still heartbeat', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const beats = new Map<string, number>();
    const heartbeat = work.heartbeat.bind(work);
    const spyBeat = vi.spyOn(work, 'heartbeat').mockImplementation(async (claimed, vt) => {
      beats.set(claimed.id, (beats.get(claimed.id) ?? 0) + 1);
      await heartbeat(claimed, vt);
    });
    const intervals = vi.spyOn(globalThis, 'setInterval');
    try {
      const w = worker({
        concurrency: 40,
        vt: 1,
        heartbeatMs: 100,
        handlers: { 'test.echo': async () => gate.then(() => 'held') },
      });
      const subs = await work.submitBatch(Array.from({ length: 40 }, () => item()));
      await w.start();
      await until(async () => (await stateCounts()).running === 40);
      await until(() => subs.every((s) => (beats.get(s.id) ?? 0) >= 2));
      // One for the worker (a timer per item made 40).
      expect(intervals).toHaveBeenCalledTimes(1);
      release();
      await until(async () => (await stateCounts()).completed === 40);
      await w.stop();
    } finally {
      release(); // also when an assertion failed: the handlers must not hold the worker
      intervals.mockRestore();
      spyBeat.mockRestore();
    }
  });

  it('rejects a heartbeat period that is not a number of milliseconds >= 10', () => {
    for (const heartbeatMs of [0, 5, -1, Number.NaN, Number.POSITIVE_INFINITY, '100' as unknown as number])
      expect(() => worker({ heartbeatMs, handlers: {} })).toThrow(
        /heartbeatMs must be a number of milliseconds >= 10/,
      );
  });

  it('an attempt hook sees each attempt: the handler runs through it, then completed or failed', async () => {
    const events: string[] = [];
    const n = (it: { params?: unknown }) => String((it.params as { n: number }).n);
    const attempt: AttemptHook = (claimed) => ({
      run(handler, it, ctx) {
        events.push(`run ${n(it)}`);
        expect(it).toBe(claimed);
        return handler(it, ctx);
      },
      completed: () => events.push(`completed ${n(claimed)}`),
      failed: (error) => events.push(`failed ${n(claimed)}: ${(error as Error).message}`),
    });
    const ok = item();
    const bad = item({ maxAttempts: 1 });
    await work.submit(ok);
    await work.submit(bad);
    const okN = n(ok);
    const badN = n(bad);
    const w = worker({
      concurrency: 1,
      attempt,
      handlers: {
        'test.echo': (it) => {
          if (n(it) === badN) throw new Error('no');
          return 'fine';
        },
      },
    });
    await w.start();
    await until(async () => {
      const c = await stateCounts();
      return c.completed === 1 && c.dead === 1;
    });
    await w.stop();
    expect(events).toEqual([`run ${okN}`, `completed ${okN}`, `run ${badN}`, `failed ${badN}: no`]);

    // A process hook takes precedence: the attempt hook is not called.
    events.length = 0;
    let wrapped = 0;
    await work.submit(item());
    const w2 = worker({
      concurrency: 1,
      attempt,
      process: (_it, run) => {
        wrapped++;
        return run();
      },
      handlers: { 'test.echo': () => 'ok' },
    });
    await w2.start();
    await until(async () => (await stateCounts()).completed === 2);
    await w2.stop();
    expect(wrapped).toBe(1);
    expect(events).toEqual([]);
  });

  it('a slow completion flush does not shrink claims: reads stay full batches while it lasts', async () => {
    // The first batch completion is held for a while (as a slow first archive on a fresh queue
    // was); meanwhile the worker must not claim a few items at a time into the slots that the
    // held completions keep.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let first = true;
    const sizes: number[] = [];
    const slow = Object.create(work) as WorkItems;
    slow.read = async (...args: Parameters<WorkItems['read']>) => {
      const items = await work.read(...args);
      sizes.push(items.length);
      return items;
    };
    slow.completeMany = async (...args: Parameters<WorkItems['completeMany']>) => {
      if (first) {
        first = false;
        setTimeout(release, 300);
        await held;
      }
      return work.completeMany(...args);
    };
    const total = 120;
    await work.submitBatch(Array.from({ length: total }, () => item()));
    const w = new Worker(
      { work: slow, pool: db.pool },
      {
        pollIntervalMs: 20,
        concurrency: 20,
        batchSize: 10,
        completeBatchSize: 10,
        handlers: { 'test.echo': () => 'ok' },
      },
    );
    started.push(w);
    await w.start();
    await until(async () => (await stateCounts()).completed === total);
    await w.stop();
    const claims = sizes.filter((n) => n > 0);
    expect(claims.reduce((a, b) => a + b, 0)).toBe(total);
    expect(
      claims.every((n) => n === 10),
      `claim sizes ${claims.join(',')}`,
    ).toBe(true);
  });
});
