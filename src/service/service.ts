// `animus serve` as a library: telemetry, the client, one worker per configured queue with
// the built-in handlers (plus the user's module), and the HTTP API. `drain()` is the SIGTERM
// path: stop taking work, let in-flight items finish (or abort them at the timeout, so they
// come back after their visibility timeout), flush telemetry, close the pool.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Animus } from '../client.js';
import type { AnimusConfig } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import {
  ANIMUS_VERSION,
  createLogger,
  initTelemetry,
  type Logger,
  type TelemetryHandle,
} from '../telemetry/index.js';
import type { HandlerContext, Worker, WorkHandler } from '../worker/worker.js';
import type { ClaimedItem } from '../work/types.js';
import { assertListenAllowed } from './auth.js';
import { buildHttpServer } from './http-server.js';
import { builtInHandlers } from './handlers.js';

/** Options for {@link startService}. */
export interface ServiceOptions {
  config: AnimusConfig;
  /** How long a drain waits for in-flight items before aborting them, in ms. Default 30000. */
  drainTimeoutMs?: number;
  /** Visibility timeout of each claim in seconds. Default 30. */
  vt?: number;
  /** Where log lines go. Default: JSON lines on stderr at `config.logLevel`. */
  logger?: Logger;
  /** Environment for telemetry's `OTEL_*` switches. Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** How a drain ended. */
export interface DrainResult {
  /** Items whose handlers were aborted at the timeout (they return to the queue). */
  aborted: number;
  /** Whether every in-flight item finished within the timeout. */
  clean: boolean;
}

/** A running service. */
export interface RunningService {
  /** `http://host:port` the API listens on. */
  readonly url: string;
  readonly animus: Animus;
  readonly http: FastifyInstance;
  /** Items being processed right now. */
  inFlight(): number;
  /** Stops taking work and HTTP requests, finishes in-flight work, closes everything. Idempotent. */
  drain(reason: string): Promise<DrainResult>;
}

/** Loads the user's handler module: `export const handlers = { type: fn }` or a default export. */
export async function loadHandlersModule(path: string): Promise<Record<string, WorkHandler>> {
  const variable = 'ANIMUS_HANDLERS_MODULE';
  let mod: Record<string, unknown>;
  try {
    const url = /^[a-z]+:/i.test(path) && !/^[a-z]:\\/i.test(path) ? path : pathToFileURL(resolve(path)).href;
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(variable, `${variable}: cannot load '${path}': ${(err as Error).message}`, {
      cause: err,
    });
  }
  const table = (mod.handlers ?? mod.default) as unknown;
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw new ConfigError(
      variable,
      `${variable}: '${path}' must export \`handlers\` (or a default export): an object of work type → async function`,
    );
  }
  const out: Record<string, WorkHandler> = {};
  for (const [type, fn] of Object.entries(table)) {
    if (typeof fn !== 'function') {
      throw new ConfigError(
        variable,
        `${variable}: handler '${type}' in '${path}' is a ${typeof fn}, not a function`,
      );
    }
    out[type] = fn as WorkHandler;
  }
  return out;
}

/** Starts the service and returns once the API listens and the workers run. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config } = options;
  // Refuse an open API on the network before touching anything else.
  assertListenAllowed(config.http.host, config.http.apiToken);
  const log = options.logger ?? createLogger({ level: config.logLevel, name: 'animus.service' });
  const userHandlers =
    config.work.handlersModule === undefined ? {} : await loadHandlersModule(config.work.handlersModule);

  const telemetry: TelemetryHandle = await initTelemetry(config, {
    prometheus: true,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const animus = new Animus({ config, log: (line) => log.info(line) });
  try {
    await animus.start();
  } catch (err) {
    await telemetry.shutdown();
    throw err;
  }

  const builtIns = builtInHandlers(animus);
  for (const type of Object.keys(userHandlers)) {
    if (type in builtIns) {
      await animus.close();
      await telemetry.shutdown();
      throw new ConfigError(
        'ANIMUS_HANDLERS_MODULE',
        `ANIMUS_HANDLERS_MODULE: handler '${type}' clashes with a built-in handler; choose another work type`,
      );
    }
  }
  let inFlight = 0;
  let aborted = 0;
  const track =
    (handler: WorkHandler): WorkHandler =>
    async (item: ClaimedItem, ctx: HandlerContext) => {
      inFlight++;
      try {
        return await handler(item, ctx);
      } finally {
        inFlight--;
        if (ctx.signal.aborted) aborted++;
      }
    };
  const handlers: Record<string, WorkHandler> = {};
  for (const [type, h] of Object.entries({ ...builtIns, ...userHandlers })) handlers[type] = track(h);

  const workerLog = log.child({ component: 'worker' });
  const workers: Worker[] = config.work.queues.map((queue) =>
    animus.worker({
      queue,
      handlers,
      vt: options.vt ?? 30,
      stopTimeoutMs: options.drainTimeoutMs ?? 30_000,
      logger: workerLog,
    }),
  );
  let ready = false;
  const http = await buildHttpServer({
    client: animus,
    apiToken: config.http.apiToken,
    bodyLimitBytes: config.http.bodyLimitBytes,
    ...(telemetry.metricsText === undefined ? {} : { metrics: telemetry.metricsText }),
    ready: () => ready,
    version: ANIMUS_VERSION,
    onServerError: (err) => log.error('request failed', { error: (err as Error).stack ?? String(err) }),
  });
  let url: string;
  try {
    for (const w of workers) await w.start();
    url = await http.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    await Promise.all(workers.map((w) => w.stop({ timeoutMs: 0 })));
    await http.close();
    await animus.close();
    await telemetry.shutdown();
    throw err;
  }
  ready = true;
  log.info('listening', {
    url,
    queues: config.work.queues,
    handlers: Object.keys(handlers),
    database: animus.db.kind,
    auth: config.http.apiToken !== undefined,
  });

  let draining: Promise<DrainResult> | undefined;
  return {
    url,
    animus,
    http,
    inFlight: () => inFlight,
    drain(reason) {
      draining ??= (async () => {
        ready = false;
        const timeoutMs = options.drainTimeoutMs ?? 30_000;
        log.info('draining', { reason, inFlight, timeoutMs });
        await Promise.all([http.close(), ...workers.map((w) => w.stop({ timeoutMs }))]);
        await telemetry.forceFlush();
        await animus.close();
        await telemetry.shutdown();
        const result = { aborted, clean: aborted === 0 };
        log.info('drained', { ...result });
        return result;
      })();
      return draining;
    },
  };
}
