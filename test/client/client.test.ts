import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Animus, AnimusError, type ClaimedItem } from '../../src/index.js';
import { createTestDatabase, serverUrl, type TestDatabase, testKind } from '../support/database.js';

// The client end to end: on a server it gets a fresh database; on the embedded default it
// starts its own PGlite in a temporary data directory (the real embedded code path).
let db: TestDatabase | undefined;
let dataDir: string | undefined;

function options(): ConstructorParameters<typeof Animus>[0] {
  if (serverUrl !== undefined) return { databaseUrl: db!.url, work: { queues: ['work', 'mail'] } };
  return { dataDir: dataDir!, work: { queues: ['work', 'mail'] } };
}

beforeAll(async () => {
  if (serverUrl !== undefined) db = await createTestDatabase({ migrate: false });
  else dataDir = mkdtempSync(join(tmpdir(), 'animus-client-'));
});
afterAll(async () => {
  await db?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

describe(`Animus client (${testKind})`, () => {
  it('refuses use before start, and start/close are idempotent', async () => {
    const animus = new Animus(options());
    expect(() => animus.work).toThrow(AnimusError);
    expect(() => animus.work).toThrow(/call `await animus.start\(\)` first/);
    await Promise.all([animus.start(), animus.start()]);
    await animus.start();
    expect((await animus.work.queues()).sort()).toEqual(['mail', 'work']);
    await animus.close();
    await animus.close();
    expect(() => animus.memory).toThrow(/not started/);
  });

  it('submit → worker → completed, inside one client; transactions commit or roll back with the caller', async () => {
    await using animus = await new Animus(options()).start();
    const seen: ClaimedItem[] = [];
    const worker = animus.worker({
      queue: 'mail',
      concurrency: 2,
      pollIntervalMs: 20,
      handlers: {
        'mail.send': async (item) => {
          seen.push(item);
          return { sent: true };
        },
      },
    });
    await worker.start();
    const rolledBack = await animus
      .transaction(async (tx) => {
        await animus.work.submit(
          { queue: 'mail', workType: 'mail.send', source: 'test', params: { to: 'x' } },
          { tx },
        );
        throw new Error('caller changed its mind');
      })
      .catch((e: Error) => e.message);
    expect(rolledBack).toBe('caller changed its mind');
    const sub = await animus.transaction((tx) =>
      animus.work.submit(
        { queue: 'mail', workType: 'mail.send', source: 'test', params: { to: 'ann' } },
        { tx },
      ),
    );
    const deadline = Date.now() + 20_000;
    while ((await animus.work.get(sub.id)).state !== 'completed') {
      if (Date.now() > deadline) throw new Error('not processed');
      await new Promise((r) => setTimeout(r, 20));
    }
    await worker.stop();
    expect(seen.map((s) => s.params)).toEqual([{ to: 'ann' }]);
    expect((await animus.work.get(sub.id)).outcomeData).toEqual({ sent: true });
    expect((await animus.work.list({ queue: 'mail' })).length).toBe(1);
  });

  it('health names the database, pgvector, pgmq flavour, migrations and dimensions', async () => {
    await using animus = await new Animus(options()).start();
    const h = await animus.health();
    expect(h.database).toMatchObject({ reachable: true, kind: testKind });
    expect(h.database.pgvectorVersion).toMatch(/^0\.\d+\.\d+/);
    expect(['extension', 'compat']).toContain(h.pgmq.flavour);
    expect(h.migrations.pending).toBe(0);
    expect(h.embedding).toMatchObject({
      provider: 'local',
      configuredDimensions: 512,
      storedDimensions: 512,
    });
  });
});
