// Typed configuration, built once and validated up front. The SDK passes options; only the
// CLI and the service read the environment (after dotenv). Every error names the variable,
// what was wrong and an example — never a secret's value.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { Secret, secretOrUndefined } from './secret.js';

/** Which embedding implementation to use. */
export type EmbeddingProvider = 'local' | 'openai';
/** Log verbosity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The local default model: Universal Sentence Encoder Lite (512 dimensions). */
export const LOCAL_EMBEDDING_MODEL = 'universal-sentence-encoder-lite';
export const LOCAL_EMBEDDING_DIMENSIONS = 512;
const OPENAI_DEFAULT_EMBEDDING_MODEL = 'text-embedding-3-small';
const OPENAI_DEFAULT_DIMENSIONS = 1536;

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
    readonly provider: EmbeddingProvider;
    readonly model: string;
    readonly dimensions: number;
  };
  readonly openai: {
    readonly apiKey: Secret | undefined;
    readonly baseUrl: string | undefined;
  };
  /** Chat model name for an OpenAI-compatible endpoint; `undefined` = none configured. */
  readonly chatModel: string | undefined;
  readonly anthropicApiKey: Secret | undefined;
  readonly telemetry: {
    /** OTLP/HTTP base endpoint; `undefined` = no export. */
    readonly otlpEndpoint: string | undefined;
    /** Record prompt/completion/query text on spans. Default false. */
    readonly captureContent: boolean;
    readonly serviceName: string;
  };
  readonly logLevel: LogLevel;
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** Bearer token for the HTTP API; required to listen beyond loopback. */
    readonly apiToken: Secret | undefined;
    /** Largest accepted request body in bytes. Default 1 MiB. */
    readonly bodyLimitBytes: number;
  };
  readonly work: {
    /** Queues the service runs workers for. Default `['work']`. */
    readonly queues: readonly string[];
    readonly concurrency: number;
    /** Largest accepted `params` (serialised JSON bytes). Default 256 KiB. */
    readonly maxParamsBytes: number;
    /** Module that exports extra handlers for the service; `undefined` = built-ins only. */
    readonly handlersModule: string | undefined;
  };
}

/** Options an SDK user may pass; everything has a default. */
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
  telemetry?: { otlpEndpoint?: string; captureContent?: boolean; serviceName?: string };
  logLevel?: LogLevel;
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

function fail(variable: string, what: string, example: string): never {
  throw new ConfigError(variable, `${variable}: ${what} (example: ${example})`);
}

function parseIntVar(
  variable: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  example: string,
): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const schema = z.coerce.number().int().min(min).max(max);
  const out = schema.safeParse(raw.trim());
  if (!out.success || !/^-?\d+$/.test(raw.trim())) {
    fail(variable, `expected a whole number from ${min} to ${max}, got '${raw}'`, example);
  }
  return out.data;
}

function parseBool(variable: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(variable, `expected true or false, got '${raw}'`, `${variable}=true`);
}

function checkDatabaseUrl(variable: string, raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value may hold a password: say what is wrong without echoing it.
    fail(variable, 'is not a URL', 'postgres://user:password@127.0.0.1:5432/animus');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    fail(
      variable,
      `must use the postgres:// or postgresql:// scheme, got '${url.protocol}'`,
      'postgres://user:password@127.0.0.1:5432/animus',
    );
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    fail(variable, 'has no host', 'postgres://user:password@127.0.0.1:5432/animus');
  }
}

function checkHttpUrl(variable: string, raw: string, example: string): string {
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    return raw;
  } catch {
    return fail(variable, `expected an http(s) URL, got '${raw}'`, example);
  }
}

const QUEUE_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseQueues(variable: string, raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return ['work'];
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const name of names) {
    if (!QUEUE_NAME.test(name) || name.length > 47) {
      fail(
        variable,
        `'${name}' is not a valid queue name (letters, digits, _; at most 47)`,
        `${variable}=work,ingest`,
      );
    }
  }
  return names;
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * Builds the configuration from an environment-like object (the CLI passes `process.env`
 * after dotenv). Throws {@link ConfigError} naming the first bad variable.
 */
export function configFromEnv(env: Record<string, string | undefined>): AnimusConfig {
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const options: AnimusOptions = {};
  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl !== undefined) options.databaseUrl = databaseUrl;
  const dataDir = get('ANIMUS_DATA_DIR');
  options.dataDir = dataDir ?? defaultDataDir(env);
  options.poolMax = parseIntVar(
    'ANIMUS_DB_POOL_MAX',
    get('ANIMUS_DB_POOL_MAX'),
    10,
    1,
    1000,
    'ANIMUS_DB_POOL_MAX=10',
  );
  options.connectTimeoutMs = parseIntVar(
    'ANIMUS_DB_CONNECT_TIMEOUT_MS',
    get('ANIMUS_DB_CONNECT_TIMEOUT_MS'),
    5000,
    100,
    600_000,
    'ANIMUS_DB_CONNECT_TIMEOUT_MS=5000',
  );

  const provider = get('EMBEDDING_PROVIDER');
  if (provider !== undefined && provider !== 'local' && provider !== 'openai') {
    fail('EMBEDDING_PROVIDER', `expected 'local' or 'openai', got '${provider}'`, 'EMBEDDING_PROVIDER=local');
  }
  const embedding: NonNullable<AnimusOptions['embedding']> = {};
  if (provider !== undefined) embedding.provider = provider;
  const model = get('EMBEDDING_MODEL');
  if (model !== undefined) embedding.model = model;
  const dims = get('EMBEDDING_DIMENSIONS');
  if (dims !== undefined) {
    embedding.dimensions = parseIntVar('EMBEDDING_DIMENSIONS', dims, 0, 1, 16000, 'EMBEDDING_DIMENSIONS=512');
  }
  options.embedding = embedding;

  const baseUrl = get('OPENAI_BASE_URL');
  options.openai = {};
  if (baseUrl !== undefined) {
    options.openai.baseUrl = checkHttpUrl(
      'OPENAI_BASE_URL',
      baseUrl,
      'OPENAI_BASE_URL=https://openrouter.ai/api/v1',
    );
  }
  const apiKey = get('OPENAI_API_KEY');
  if (apiKey !== undefined) options.openai.apiKey = apiKey;
  const chatModel = get('CHAT_MODEL');
  if (chatModel !== undefined) options.chatModel = chatModel;
  const anthropic = get('ANTHROPIC_API_KEY');
  if (anthropic !== undefined) options.anthropicApiKey = anthropic;

  const otlp = get('OTEL_EXPORTER_OTLP_ENDPOINT');
  options.telemetry = {
    captureContent: parseBool(
      'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT',
      get('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT'),
      false,
    ),
    serviceName: get('OTEL_SERVICE_NAME') ?? 'animus',
  };
  if (otlp !== undefined) {
    options.telemetry.otlpEndpoint = checkHttpUrl(
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      otlp,
      'OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318',
    );
  }

  const logLevel = get('LOG_LEVEL')?.toLowerCase();
  if (logLevel !== undefined) {
    if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
      fail('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`, 'LOG_LEVEL=info');
    }
    options.logLevel = logLevel as LogLevel;
  }

  options.http = {
    host: get('ANIMUS_HTTP_HOST') ?? '127.0.0.1',
    port: parseIntVar('ANIMUS_HTTP_PORT', get('ANIMUS_HTTP_PORT'), 8080, 0, 65535, 'ANIMUS_HTTP_PORT=8080'),
    bodyLimitBytes: parseIntVar(
      'ANIMUS_HTTP_BODY_LIMIT',
      get('ANIMUS_HTTP_BODY_LIMIT'),
      1024 * 1024,
      1024,
      1024 * 1024 * 1024,
      'ANIMUS_HTTP_BODY_LIMIT=1048576',
    ),
  };
  const token = get('ANIMUS_API_TOKEN');
  if (token !== undefined) {
    if (token.length < 16) {
      // Length only: the token itself never reaches a message.
      fail(
        'ANIMUS_API_TOKEN',
        `is too short (${token.length} characters, need at least 16)`,
        'ANIMUS_API_TOKEN=$(openssl rand -hex 32)',
      );
    }
    options.http.apiToken = token;
  }
  options.work = {
    queues: parseQueues('ANIMUS_QUEUES', get('ANIMUS_QUEUES')),
    concurrency: parseIntVar(
      'ANIMUS_WORKER_CONCURRENCY',
      get('ANIMUS_WORKER_CONCURRENCY'),
      4,
      1,
      1000,
      'ANIMUS_WORKER_CONCURRENCY=4',
    ),
    maxParamsBytes: parseIntVar(
      'ANIMUS_MAX_PARAMS_BYTES',
      get('ANIMUS_MAX_PARAMS_BYTES'),
      256 * 1024,
      64,
      64 * 1024 * 1024,
      'ANIMUS_MAX_PARAMS_BYTES=262144',
    ),
  };
  const handlers = get('ANIMUS_HANDLERS_MODULE');
  if (handlers !== undefined) options.work.handlersModule = handlers;
  return resolveConfig(options);
}

/**
 * Fills defaults into SDK options and validates them. Throws {@link ConfigError} naming the
 * first bad option.
 */
export function resolveConfig(options: AnimusOptions = {}): AnimusConfig {
  if (options.databaseUrl !== undefined) checkDatabaseUrl('DATABASE_URL', options.databaseUrl);
  const provider = options.embedding?.provider ?? 'local';
  if (provider !== 'local' && provider !== 'openai') {
    fail(
      'EMBEDDING_PROVIDER',
      `expected 'local' or 'openai', got '${String(provider)}'`,
      'EMBEDDING_PROVIDER=local',
    );
  }
  let model = options.embedding?.model;
  let dimensions = options.embedding?.dimensions;
  if (provider === 'local') {
    if (model !== undefined && model !== LOCAL_EMBEDDING_MODEL) {
      fail(
        'EMBEDDING_MODEL',
        `the local provider has only '${LOCAL_EMBEDDING_MODEL}', got '${model}'`,
        `EMBEDDING_MODEL=${LOCAL_EMBEDDING_MODEL}`,
      );
    }
    if (dimensions !== undefined && dimensions !== LOCAL_EMBEDDING_DIMENSIONS) {
      fail(
        'EMBEDDING_DIMENSIONS',
        `the local model has ${LOCAL_EMBEDDING_DIMENSIONS} dimensions, got ${dimensions}`,
        `EMBEDDING_DIMENSIONS=${LOCAL_EMBEDDING_DIMENSIONS}`,
      );
    }
    model = LOCAL_EMBEDDING_MODEL;
    dimensions = LOCAL_EMBEDDING_DIMENSIONS;
  } else {
    model ??= OPENAI_DEFAULT_EMBEDDING_MODEL;
    dimensions ??= OPENAI_DEFAULT_DIMENSIONS;
    if (options.openai?.apiKey === undefined && options.openai?.baseUrl === undefined) {
      fail(
        'OPENAI_API_KEY',
        'is required when EMBEDDING_PROVIDER=openai (or set OPENAI_BASE_URL to a keyless endpoint)',
        'OPENAI_API_KEY=sk-...',
      );
    }
  }
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 16000) {
    fail(
      'EMBEDDING_DIMENSIONS',
      `expected a whole number from 1 to 16000, got ${String(dimensions)}`,
      'EMBEDDING_DIMENSIONS=1536',
    );
  }
  const positive = (name: string, v: number | undefined, d: number, min: number, max: number): number => {
    const value = v ?? d;
    if (!Number.isInteger(value) || value < min || value > max) {
      fail(name, `expected a whole number from ${min} to ${max}, got ${String(value)}`, `${name}=${d}`);
    }
    return value;
  };
  const queues = options.work?.queues ?? ['work'];
  for (const q of queues) {
    if (!QUEUE_NAME.test(q) || q.length > 47)
      fail('ANIMUS_QUEUES', `'${q}' is not a valid queue name`, 'ANIMUS_QUEUES=work');
  }
  return {
    databaseUrl: secretOrUndefined(options.databaseUrl),
    dataDir: options.dataDir ?? defaultDataDir(),
    db: {
      poolMax: positive('ANIMUS_DB_POOL_MAX', options.poolMax, 10, 1, 1000),
      connectTimeoutMs: positive(
        'ANIMUS_DB_CONNECT_TIMEOUT_MS',
        options.connectTimeoutMs,
        5000,
        100,
        600_000,
      ),
    },
    embedding: { provider, model, dimensions },
    openai: {
      apiKey: secretOrUndefined(options.openai?.apiKey),
      baseUrl: options.openai?.baseUrl,
    },
    chatModel: options.chatModel,
    anthropicApiKey: secretOrUndefined(options.anthropicApiKey),
    telemetry: {
      otlpEndpoint: options.telemetry?.otlpEndpoint,
      captureContent: options.telemetry?.captureContent ?? false,
      serviceName: options.telemetry?.serviceName ?? 'animus',
    },
    logLevel: options.logLevel ?? 'info',
    http: {
      host: options.http?.host ?? '127.0.0.1',
      port: positive('ANIMUS_HTTP_PORT', options.http?.port, 8080, 0, 65535),
      apiToken: secretOrUndefined(options.http?.apiToken),
      bodyLimitBytes: positive(
        'ANIMUS_HTTP_BODY_LIMIT',
        options.http?.bodyLimitBytes,
        1024 * 1024,
        1024,
        1024 ** 3,
      ),
    },
    work: {
      queues,
      concurrency: positive('ANIMUS_WORKER_CONCURRENCY', options.work?.concurrency, 4, 1, 1000),
      maxParamsBytes: positive(
        'ANIMUS_MAX_PARAMS_BYTES',
        options.work?.maxParamsBytes,
        256 * 1024,
        64,
        64 * 1024 * 1024,
      ),
      handlersModule: options.work?.handlersModule,
    },
  };
}

export { Secret };
