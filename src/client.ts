// The SDK's one client. It owns the database (server or embedded), the work API, the
// memory API and the workers created through it; `start()` and `close()` are idempotent.
// Configuration is passed in: the library never reads the environment.
import type { Embeddings } from '@langchain/core/embeddings';
import type pg from 'pg';
import { type AnimusConfig, type AnimusOptions, resolveConfig } from './config/index.js';
import { type Database, openDatabase } from './db/database.js';
import { checkHealth, type HealthReport } from './db/health.js';
import type { PgmqMode } from './db/migrate.js';
import { AnimusError } from './errors/index.js';
import { createEmbeddings } from './llm/index.js';
import { MemoryStore } from './memory/index.js';
import {
  createMemoryTelemetry,
  createWorkTracing,
  registerQueueGauges,
  setContentCapture,
  traceWorkAttempts,
} from './telemetry/index.js';
import type { BackoffOptions } from './work/backoff.js';
import type { Queryable } from './work/types.js';
import type { WorkTracing } from './work/tracing.js';
import { WorkItems } from './work/work-items.js';
import { Worker, type WorkerOptions } from './worker/worker.js';

/** Options of the client: configuration plus runtime choices. */
export interface AnimusClientOptions extends AnimusOptions {
  /** A configuration already resolved (the CLI passes one built from the environment). */
  config?: AnimusConfig;
  /** Apply pending migrations at start. Default true. */
  migrate?: boolean;
  /** pgmq flavour: `auto` (default) prefers the real extension. */
  pgmq?: PgmqMode;
  /** Retry back-off for failed attempts. */
  backoff?: BackoffOptions;
  /** Telemetry hooks for work (the default uses the global OpenTelemetry API). */
  workTracing?: WorkTracing;
  /** Called with progress lines (migrations applied …). */
  log?: (line: string) => void;
  /**
   * The embeddings to use instead of the configured ones (already a LangChain `Embeddings`).
   * Default: `createEmbeddings(config)`, traced with GenAI spans.
   */
  embeddings?: Embeddings;
  /**
   * Start even when the database stores embeddings of another dimension than configured, so
   * `memory.reembed` can move it to the configured one (the CLI's `memory reembed`). Default false.
   */
  allowDimensionChange?: boolean;
  /** Turn off animus's own spans and metrics (they cost nothing without an OTel SDK). Default false. */
  disableTelemetry?: boolean;
}

/** What `animus.health()` reports. */
export interface AnimusHealth {
  database: {
    reachable: boolean;
    kind: 'server' | 'embedded';
    target: string;
    latencyMs: number | undefined;
    serverVersion: string | undefined;
    pgvectorVersion: string | undefined;
    error: string | undefined;
  };
  pgmq: HealthReport['pgmq'];
  migrations: HealthReport['migrations'];
  embedding: {
    provider: string;
    model: string;
    configuredDimensions: number;
    storedDimensions: number | undefined;
  };
}

/** The animus client: `const animus = new Animus(); await animus.start();`. */
export class Animus {
  /** The resolved configuration. */
  readonly config: AnimusConfig;
  readonly #options: AnimusClientOptions;
  #db: Database | undefined;
  #work: WorkItems | undefined;
  #memory: MemoryStore | undefined;
  #starting: Promise<void> | undefined;
  #unregisterGauges: (() => void) | undefined;
  readonly #workers = new Set<Worker>();

  constructor(options: AnimusClientOptions = {}) {
    this.#options = options;
    this.config = options.config ?? resolveConfig(options);
    // Prompt, completion and query text go on spans only when switched on.
    setContentCapture(this.config.telemetry.captureContent);
  }

  /** Opens (and by default migrates) the database and creates the configured queues. Idempotent. */
  async start(): Promise<this> {
    this.#starting ??= this.#start().catch((err: unknown) => {
      this.#starting = undefined;
      throw err;
    });
    await this.#starting;
    return this;
  }

  async #start(): Promise<void> {
    const db = await openDatabase(this.config, {
      migrate: this.#options.migrate ?? true,
      ...(this.#options.pgmq === undefined ? {} : { pgmq: this.#options.pgmq }),
      ...(this.#options.log === undefined ? {} : { log: this.#options.log }),
      allowDimensionChange: this.#options.allowDimensionChange === true,
    });
    try {
      const work = new WorkItems({
        pool: db.pool,
        maxParamsBytes: this.config.work.maxParamsBytes,
        ...(this.#options.backoff === undefined ? {} : { backoff: this.#options.backoff }),
        ...(this.#tracing() === undefined ? {} : { tracing: this.#tracing()! }),
      });
      for (const queue of this.config.work.queues) await work.createQueue(queue);
      const telemetryOn = this.#options.disableTelemetry !== true;
      // createEmbeddings returns embeddings already traced with GenAI spans (src/llm wires telemetry).
      const embeddings = this.#options.embeddings ?? createEmbeddings(this.config);
      this.#memory = new MemoryStore({
        pool: db.pool,
        embeddings,
        dimensions: this.config.embedding.dimensions,
        bm25: { k1: this.config.search.bm25K1, b: this.config.search.bm25B },
        keywordCandidates: this.config.search.keywordCandidates,
        ...(telemetryOn ? { telemetry: createMemoryTelemetry() } : {}),
      });
      this.#db = db;
      this.#work = work;
      if (this.#options.disableTelemetry !== true) {
        // Observed only when an OTel SDK with a metric reader is installed; one query per collection.
        this.#unregisterGauges = registerQueueGauges(() => work.queueMetrics());
      }
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  #tracing(): WorkTracing | undefined {
    if (this.#options.workTracing !== undefined) return this.#options.workTracing;
    return this.#options.disableTelemetry === true ? undefined : (createWorkTracing() as WorkTracing);
  }

  #need<T>(value: T | undefined): T {
    if (value === undefined)
      throw new AnimusError('CLOSED', 'animus is not started: call `await animus.start()` first');
    return value;
  }

  /** The database handle (pool, kind). */
  get db(): Database {
    return this.#need(this.#db);
  }

  /** The shared `pg` Pool. */
  get pool(): pg.Pool {
    return this.db.pool;
  }

  /** Work items: submit, read, settle, inspect. */
  get work(): WorkItems {
    return this.#need(this.#work);
  }

  /** Memories: store, vector / keyword / hybrid search, get, update, delete. */
  get memory(): MemoryStore {
    return this.#need(this.#memory);
  }

  /** Database reachability, versions, which pgmq, migration state, embedding dimensions. */
  async health(): Promise<AnimusHealth> {
    const db = this.db;
    const h = await checkHealth(db.pool);
    return {
      database: {
        reachable: h.reachable,
        kind: db.kind,
        target: db.target,
        latencyMs: h.latencyMs,
        serverVersion: h.serverVersion,
        pgvectorVersion: h.pgvectorVersion,
        error: h.error,
      },
      pgmq: h.pgmq,
      migrations: h.migrations,
      embedding: {
        provider: this.config.embedding.provider,
        model: this.config.embedding.model,
        configuredDimensions: this.config.embedding.dimensions,
        storedDimensions: h.embeddingDimensions,
      },
    };
  }

  /**
   * Creates a worker for one queue (not started). `close()` stops it. LISTEN wake-ups are on
   * by default where the database supports them (a server), polling otherwise.
   */
  worker(options: WorkerOptions): Worker {
    const db = this.db;
    const worker = new Worker(
      { work: this.work, pool: db.pool },
      {
        listen: db.supportsNotify,
        concurrency: this.config.work.concurrency,
        ...(this.#options.disableTelemetry === true ? {} : { attempt: traceWorkAttempts }),
        ...options,
      },
    );
    this.#workers.add(worker);
    return worker;
  }

  /**
   * Runs `fn` inside a transaction on one connection; pass the client as `{ tx }` to writes so
   * they commit or roll back together with the caller's own statements.
   */
  async transaction<T>(fn: (tx: Queryable & pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** Stops every worker created here (graceful), then closes the database. Idempotent. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    await Promise.all([...this.#workers].map((w) => w.stop(options)));
    this.#workers.clear();
    this.#unregisterGauges?.();
    this.#unregisterGauges = undefined;
    const db = this.#db;
    this.#db = undefined;
    this.#work = undefined;
    this.#memory = undefined;
    this.#starting = undefined;
    await db?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
