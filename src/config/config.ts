// Typed configuration, built once and validated up front against the zod schemas in
// schema.ts. The SDK passes options; only the CLI and the service read the environment (after
// dotenv). Every error names the variable, what was wrong and an example — never a secret's value.
import { homedir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import {
  envSchema,
  FIELDS,
  type FieldSpec,
  fieldForOption,
  LOCAL_EMBEDDING_DIMENSIONS,
  LOCAL_EMBEDDING_MODEL,
  OPENAI_DEFAULT_DIMENSIONS,
  OPENAI_DEFAULT_EMBEDDING_MODEL,
  optionsSchema,
  type ParsedEnv,
} from './schema.js';
import { Secret, secretOrUndefined } from './secret.js';

export { ENV_VARIABLES } from './schema.js';
export { LOCAL_EMBEDDING_DIMENSIONS, LOCAL_EMBEDDING_MODEL };

/** Which embedding implementation to use. */
export type EmbeddingProvider = 'local' | 'openai';
/** Log verbosity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** animus's whole configuration, validated. */
export interface AnimusConfig {
  /** Postgres server URL; `undefined` means the embedded database. */
  readonly databaseUrl: Secret | undefined;
  /** Where the embedded database keeps its files (`<dataDir>/pgdata`). */
  readonly dataDir: string;
  readonly db: {
    /** Pool size for a server (embedded always uses one connection). Default 10. */
    readonly poolMax: number;
    /** Connect timeout in ms. Default 5000. */
    readonly connectTimeoutMs: number;
  };
  readonly embedding: {
    /** Default `local` (the bundled offline model). */
    readonly provider: EmbeddingProvider;
    /** Default `universal-sentence-encoder-lite` (local) or `text-embedding-3-small` (openai). */
    readonly model: string;
    /** Default 512 (local) or 1536 (openai); fixed in the schema at the first migration. */
    readonly dimensions: number;
  };
  readonly openai: {
    /** Key for the OpenAI-compatible endpoint; `undefined` = none. */
    readonly apiKey: Secret | undefined;
    /** Base URL of any OpenAI-compatible API; `undefined` = api.openai.com. */
    readonly baseUrl: string | undefined;
  };
  /** Chat model name for an OpenAI-compatible endpoint; `undefined` = none configured. */
  readonly chatModel: string | undefined;
  /** Anthropic API key; `undefined` = none. */
  readonly anthropicApiKey: Secret | undefined;
  readonly telemetry: {
    /** OTLP/HTTP base endpoint; `undefined` = no export. */
    readonly otlpEndpoint: string | undefined;
    /** Record prompt/completion/query text on spans. Default false. */
    readonly captureContent: boolean;
    /** `service.name` of spans and metrics. Default `animus`. */
    readonly serviceName: string;
    /** Encode and send spans on a worker thread (`initTelemetry`). Default true. */
    readonly exportThread: boolean;
    /**
     * The export thread's nice value on Linux, 0 to 19 (0: the process's priority). Default
     * 10: it yields a core to the work when both are ready.
     */
    readonly exportThreadNice: number;
    /**
     * Record animus's work spans straight into the setup's span processors and the work
     * duration histogram into its metric readers, instead of through the SDK's tracer and
     * instrument, where the SDK's span limits and metric temporality are the defaults
     * (`initTelemetry`). Default true.
     */
    readonly directRecording: boolean;
  };
  /** Log verbosity. Default `info`. */
  readonly logLevel: LogLevel;
  readonly search: {
    /** BM25 term-frequency saturation. Default 1.2. */
    readonly bm25K1: number;
    /** BM25 length normalisation, 0..1. Default 0.75. */
    readonly bm25B: number;
    /** Keyword candidate budget (see README, "How search works"); `null` = rank every match. Default 500. */
    readonly keywordCandidates: number | null;
  };
  readonly http: {
    /** Listen address of the HTTP API. Default `127.0.0.1`. */
    readonly host: string;
    /** Port of the HTTP API (0 = any free one). Default 8080. */
    readonly port: number;
    /** Bearer token for the HTTP API; required to listen beyond loopback. */
    readonly apiToken: Secret | undefined;
    /** Largest accepted request body in bytes. Default 1 MiB. */
    readonly bodyLimitBytes: number;
  };
  readonly work: {
    /** Queues the service runs workers for. Default `['work']`. */
    readonly queues: readonly string[];
    /** Work items one process handles at once. Default 4. */
    readonly concurrency: number;
    /** Largest accepted `params` (serialised JSON bytes). Default 256 KiB. */
    readonly maxParamsBytes: number;
    /** Module that exports extra handlers for the service; `undefined` = built-ins only. */
    readonly handlersModule: string | undefined;
  };
}

/**
 * Options an SDK user may pass; everything has a default (the same as the matching variable's,
 * see README.md ("Configuration")). Keys this type does not list are ignored.
 */
export interface AnimusOptions {
  /** Postgres URL; omit for the embedded database. */
  databaseUrl?: string;
  /** Embedded data directory. Default `$XDG_DATA_HOME/animus`, else `~/.local/share/animus`. */
  dataDir?: string;
  /** Pool size on a server. Default 10. */
  poolMax?: number;
  /** Connect timeout in ms. Default 5000. */
  connectTimeoutMs?: number;
  embedding?: { provider?: EmbeddingProvider; model?: string; dimensions?: number };
  openai?: { apiKey?: string; baseUrl?: string };
  chatModel?: string;
  anthropicApiKey?: string;
  telemetry?: {
    otlpEndpoint?: string;
    captureContent?: boolean;
    serviceName?: string;
    exportThread?: boolean;
    directRecording?: boolean;
  };
  logLevel?: LogLevel;
  search?: { bm25K1?: number; bm25B?: number; keywordCandidates?: number | 'all' };
  http?: { host?: string; port?: number; apiToken?: string; bodyLimitBytes?: number };
  work?: {
    queues?: string[];
    concurrency?: number;
    maxParamsBytes?: number;
    handlersModule?: string;
  };
}

/** Default embedded data directory for an environment. */
export function defaultDataDir(env: Record<string, string | undefined> = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  if (xdg !== undefined && xdg !== '') return join(xdg, 'animus');
  return join(env.HOME ?? homedir(), '.local', 'share', 'animus');
}

type Naming = 'env' | 'options';

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function describeValue(field: FieldSpec | undefined, value: unknown): string {
  if (field?.secret === true) {
    // Only the length of a secret may be told.
    return typeof value === 'string' ? `a value of ${value.length} characters` : `a ${typeof value}`;
  }
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'nothing';
  return JSON.stringify(value) ?? String(value);
}

/** Turns the first zod issue into a ConfigError that names the variable and shows an example. */
function toConfigError(error: z.ZodError, input: unknown, naming: Naming, pathIsEnv: boolean): ConfigError {
  const issue = error.issues[0]!;
  const field = pathIsEnv ? FIELDS[String(issue.path[0])] : fieldForOption(issue.path);
  const name =
    field === undefined
      ? issue.path.map(String).join('.') || 'options'
      : naming === 'env'
        ? field.env
        : field.option;
  const value = valueAt(input, issue.path);
  const what =
    issue.code === 'custom'
      ? issue.message
      : field === undefined
        ? // A group such as `openai` given as something else: say its type, not its value,
          // which could be a key put in the wrong place.
          `expected an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}`
        : `expected ${field.expect}, got ${describeValue(field, value)}`;
  const example =
    field === undefined
      ? ''
      : naming === 'env'
        ? ` (example: ${field.env}=${field.example})`
        : ` (example: ${field.option} = ${field.example}; variable ${field.env})`;
  // No `cause`: zod's error may carry the rejected input, and that may be a secret.
  return new ConfigError(name, `${name}: ${what}${example}`);
}

function optionsFromEnv(e: ParsedEnv, env: Record<string, string | undefined>): Record<string, unknown> {
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: e.ANIMUS_DATA_DIR ?? defaultDataDir(env),
    poolMax: e.ANIMUS_DB_POOL_MAX,
    connectTimeoutMs: e.ANIMUS_DB_CONNECT_TIMEOUT_MS,
    embedding: {
      provider: e.EMBEDDING_PROVIDER,
      model: e.EMBEDDING_MODEL,
      dimensions: e.EMBEDDING_DIMENSIONS,
    },
    openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL },
    chatModel: e.CHAT_MODEL,
    anthropicApiKey: e.ANTHROPIC_API_KEY,
    telemetry: {
      otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
      captureContent: e.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
      serviceName: e.OTEL_SERVICE_NAME,
      exportThread: e.ANIMUS_OTEL_EXPORT_THREAD,
      exportThreadNice: e.ANIMUS_OTEL_EXPORT_THREAD_NICE,
      directRecording: e.ANIMUS_OTEL_DIRECT_RECORDING,
    },
    logLevel: e.LOG_LEVEL,
    search: {
      bm25K1: e.ANIMUS_BM25_K1,
      bm25B: e.ANIMUS_BM25_B,
      keywordCandidates: e.ANIMUS_KEYWORD_CANDIDATES,
    },
    http: {
      host: e.ANIMUS_HTTP_HOST,
      port: e.ANIMUS_HTTP_PORT,
      apiToken: e.ANIMUS_API_TOKEN,
      bodyLimitBytes: e.ANIMUS_HTTP_BODY_LIMIT,
    },
    work: {
      queues: e.ANIMUS_QUEUES,
      concurrency: e.ANIMUS_WORKER_CONCURRENCY,
      maxParamsBytes: e.ANIMUS_MAX_PARAMS_BYTES,
      handlersModule: e.ANIMUS_HANDLERS_MODULE,
    },
  };
}

function resolve(input: unknown, naming: Naming): AnimusConfig {
  const parsed = optionsSchema.safeParse(input);
  if (!parsed.success) throw toConfigError(parsed.error, input, naming, false);
  const o = parsed.data;
  const local = o.embedding.provider === 'local';
  return {
    databaseUrl: secretOrUndefined(o.databaseUrl),
    // Absolute, so lock files and messages name one place whatever the working directory.
    dataDir: resolvePath(o.dataDir ?? defaultDataDir()),
    db: { poolMax: o.poolMax, connectTimeoutMs: o.connectTimeoutMs },
    embedding: {
      provider: o.embedding.provider,
      model: local ? LOCAL_EMBEDDING_MODEL : (o.embedding.model ?? OPENAI_DEFAULT_EMBEDDING_MODEL),
      dimensions: local ? LOCAL_EMBEDDING_DIMENSIONS : (o.embedding.dimensions ?? OPENAI_DEFAULT_DIMENSIONS),
    },
    openai: { apiKey: secretOrUndefined(o.openai.apiKey), baseUrl: o.openai.baseUrl },
    chatModel: o.chatModel,
    anthropicApiKey: secretOrUndefined(o.anthropicApiKey),
    telemetry: {
      otlpEndpoint: o.telemetry.otlpEndpoint,
      captureContent: o.telemetry.captureContent,
      serviceName: o.telemetry.serviceName,
      exportThread: o.telemetry.exportThread,
      exportThreadNice: o.telemetry.exportThreadNice,
      directRecording: o.telemetry.directRecording,
    },
    logLevel: o.logLevel,
    search: {
      bm25K1: o.search.bm25K1,
      bm25B: o.search.bm25B,
      keywordCandidates: o.search.keywordCandidates === 'all' ? null : o.search.keywordCandidates,
    },
    http: {
      host: o.http.host,
      port: o.http.port,
      apiToken: secretOrUndefined(o.http.apiToken),
      bodyLimitBytes: o.http.bodyLimitBytes,
    },
    work: {
      queues: o.work.queues,
      concurrency: o.work.concurrency,
      maxParamsBytes: o.work.maxParamsBytes,
      handlersModule: o.work.handlersModule,
    },
  };
}

/**
 * Builds the configuration from an environment-like object (the CLI passes `process.env`
 * after dotenv). Blank values count as unset. Throws {@link ConfigError} naming the first bad
 * variable, what is wrong and an example; a secret's value never appears in it.
 */
export function configFromEnv(env: Record<string, string | undefined>): AnimusConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw toConfigError(parsed.error, env, 'env', true);
  return resolve(optionsFromEnv(parsed.data, env), 'env');
}

/**
 * Fills defaults into SDK options and validates them (defaults are listed on
 * {@link AnimusOptions}). Throws {@link ConfigError} naming the first bad option.
 */
export function resolveConfig(options: AnimusOptions = {}): AnimusConfig {
  return resolve(options, 'options');
}

export { Secret };
