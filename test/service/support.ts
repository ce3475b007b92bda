// Starts the real service for a test file on a random loopback port: on a fresh server
// database in the server pass, or on the embedded default (its own temporary data
// directory) in the embedded pass — the same two ways `animus serve` runs in production.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AnimusConfig, type AnimusOptions, resolveConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { type RunningService, startService } from '../../src/service/service.js';
import { createTestDatabase, serverUrl, type TestDatabase } from '../support/database.js';

/** The bearer token test services use. */
export const TEST_TOKEN = 'test-token-0123456789abcdef';

/** A service under test. */
export interface TestService {
  readonly service: RunningService;
  readonly url: string;
  readonly config: AnimusConfig;
  /** Fetch against the service with the right token (unless `auth: false` or another header). */
  api(path: string, init?: RequestInit & { auth?: boolean; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** Settings for a test service: embedded or server, per the pass. */
export async function testConfig(
  overrides: AnimusOptions = {},
): Promise<{ config: AnimusConfig; cleanup: () => Promise<void> }> {
  const base: AnimusOptions = {
    http: { host: '127.0.0.1', port: 0, apiToken: TEST_TOKEN, ...overrides.http },
    work: { queues: ['work'], concurrency: 2, ...overrides.work },
    logLevel: 'warn',
  };
  if (serverUrl !== undefined) {
    const db: TestDatabase = await createTestDatabase({ migrate: false });
    return {
      config: resolveConfig({ ...overrides, ...base, databaseUrl: db.url, poolMax: 8 }),
      cleanup: () => db.close(),
    };
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'animus-svc-'));
  return {
    config: resolveConfig({ ...overrides, ...base, dataDir }),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
}

/** Starts the service (the caller must `close()` it). */
export async function startTestService(overrides: AnimusOptions = {}): Promise<TestService> {
  const { config, cleanup } = await testConfig(overrides);
  const lines: string[] = [];
  const service = await startService({
    config,
    drainTimeoutMs: 10_000,
    vt: 10,
    logger: createLogger({ level: 'warn', stream: { write: (s: string) => lines.push(s) } }),
    env: {},
  });
  let closed = false;
  return {
    service,
    url: service.url,
    config,
    async api(path, init = {}) {
      const { auth, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (auth !== false && !headers.has('authorization'))
        headers.set('authorization', `Bearer ${TEST_TOKEN}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${service.url}${path}`, {
        ...rest,
        headers,
        ...(json === undefined ? {} : { body: JSON.stringify(json), method: rest.method ?? 'POST' }),
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await service.drain('test done');
      } finally {
        await cleanup();
      }
    },
  };
}

/** Polls `check` until it returns a value (a condition on the service, not a fixed sleep). */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
