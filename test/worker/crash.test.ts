import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { WorkItems } from '../../src/work/work-items.js';
import { Worker } from '../../src/worker/worker.js';
import { type TestDatabase, testKind } from '../support/database.js';
import { item, useWorkDatabase } from '../work/factory.js';

let db: TestDatabase;
let work: WorkItems;

useWorkDatabase((d, w) => ((db = d), (work = w)), { reset: false });

describe(`crash safety (${testKind})`, () => {
  it('a worker process killed with SIGKILL mid-handler: its item is redelivered and completed once', async () => {
    const sub = await work.submit(item());
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/worker/fixtures/crash-worker.ts', db.url],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const startedLine = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.on('exit', (code) => reject(new Error(`crash worker exited early with ${code}`)));
    });
    expect(startedLine).toBe(`started ${sub.id} attempt 1`);
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect((await work.get(sub.id)).state).toBe('running'); // the dead worker never settled it

    const handled: string[] = [];
    const survivor = new Worker(
      { work, pool: db.pool },
      {
        pollIntervalMs: 50,
        handlers: { 'test.echo': async (it) => void handled.push(`${it.id}#${it.attempts}`) },
      },
    );
    await survivor.start();
    const deadline = Date.now() + 20_000;
    while ((await work.get(sub.id)).state !== 'completed') {
      if (Date.now() > deadline) throw new Error('item was not redelivered');
      await new Promise((r) => setTimeout(r, 50));
    }
    await survivor.stop();
    expect(handled).toEqual([`${sub.id}#2`]);
    expect(await work.get(sub.id)).toMatchObject({ state: 'completed', attempts: 2 });
  });
});
