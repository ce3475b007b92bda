// SIGTERM with items in flight, on the real `animus serve` process: a drain that finishes
// in-flight items exits 0 with them completed and the rest still queued; a drain that times
// out exits 75 and its aborted items come back and finish under a new worker. Nothing is lost.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Animus } from '../../src/client.js';
import type { AnimusConfig } from '../../src/config/index.js';
import { spawnCli } from './cli-process.js';
import { TEST_TOKEN, testConfig, waitFor } from './support.js';

const handlersModule = join(import.meta.dirname, 'fixtures', 'slow-handlers.mjs');

function serveEnv(config: AnimusConfig): Record<string, string> {
  return {
    ...(config.databaseUrl === undefined
      ? { ANIMUS_DATA_DIR: config.dataDir }
      : { DATABASE_URL: config.databaseUrl.reveal(), ANIMUS_DB_POOL_MAX: '6' }),
    ANIMUS_HTTP_PORT: '0',
    ANIMUS_API_TOKEN: TEST_TOKEN,
    ANIMUS_HANDLERS_MODULE: handlersModule,
    ANIMUS_WORKER_CONCURRENCY: '3',
    LOG_LEVEL: 'info',
    OTEL_SDK_DISABLED: 'true',
  };
}

async function api(url: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await res.json()) as Record<string, unknown>;
}

/** Counts by state, read after the service has exited (it held the embedded directory). */
async function statesAfterExit(animus: Animus): Promise<Record<string, number>> {
  const { rows } = await animus.pool.query<{ state: string; n: number }>(
    "SELECT state, count(*)::int AS n FROM work_items WHERE work_type = 'test.slow' GROUP BY state",
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

let config: AnimusConfig;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
});

afterAll(async () => {
  await cleanup();
});

async function startServe(args: string[]) {
  const proc = spawnCli(['serve', ...args], serveEnv(config));
  const listening = await proc.waitForLog((l) => l.msg === 'listening');
  return { proc, url: listening.url as string };
}

async function submitSlow(url: string, n: number, ms: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await api(url, '/v1/work', {
      workType: 'test.slow',
      source: 'sigterm-test',
      params: { ms, i },
    });
    ids.push(r.id as string);
  }
  return ids;
}

async function waitRunning(url: string, n: number): Promise<void> {
  await waitFor(`${n} items running`, async () => {
    const { items } = (await api(url, '/v1/work?state=running&workType=test.slow')) as { items: unknown[] };
    return items.length >= n ? true : undefined;
  });
}

// Each case starts a service process and a client on the same database: slow on a loaded
// 2-core machine with the embedded database, so the timeouts are generous.
const SLOW = { timeout: 180_000 };

describe('animus serve and SIGTERM', () => {
  it('drains: in-flight items finish, queued ones stay queued, exit code 0', SLOW, async () => {
    const { proc, url } = await startServe(['--drain-timeout', '30000']);
    await submitSlow(url, 6, 1500);
    await waitRunning(url, 3);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    const drained = proc.logs.find((l) => l.msg === 'drained');
    expect(drained).toMatchObject({ aborted: 0, clean: true });

    const animus = await new Animus({ config }).start();
    try {
      const states = await statesAfterExit(animus);
      // Three were running when the signal came and finished; the others never started.
      expect(states.completed).toBeGreaterThanOrEqual(3);
      expect((states.completed ?? 0) + (states.queued ?? 0)).toBe(6);
      expect(states.running).toBeUndefined();
      // Clear the stage for the next case.
      await animus.pool.query("DELETE FROM work_items WHERE work_type = 'test.slow' AND state = 'queued'");
      await animus.pool.query("SELECT pgmq.purge_queue('work')");
    } finally {
      await animus.close();
    }
  });

  it('drain timeout: exit code 75, aborted items come back and finish under a new worker', SLOW, async () => {
    const { proc, url } = await startServe(['--drain-timeout', '300', '--vt', '2']);
    const ids = await submitSlow(url, 3, 60_000);
    await waitRunning(url, 3);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(75);
    expect(proc.logs.find((l) => l.msg === 'drained')).toMatchObject({ aborted: 3, clean: false });

    const animus = await new Animus({ config }).start();
    try {
      const worker = animus.worker({
        queue: 'work',
        handlers: { 'test.slow': async () => ({ resumed: true }) },
        vt: 2,
      });
      await worker.start();
      await waitFor('the abandoned items to finish', async () => {
        const items = await Promise.all(ids.map((id) => animus.work.get(id)));
        return items.every((i) => i.state === 'completed') ? items : undefined;
      });
      await worker.stop();
      const states = await statesAfterExit(animus);
      expect(states.running).toBeUndefined();
      expect(states.queued).toBeUndefined();
    } finally {
      await animus.close();
    }
  });
});
