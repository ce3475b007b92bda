// The shape of animus's configuration, described once as zod schemas: one for SDK options
// (typed values) and one for the environment (strings, converted into those options). A
// table of fields ties each option path to its variable, what it expects and an example, so
// every error names the variable, says what is wrong and shows a valid value — and never
// echoes a secret.
import { z } from 'zod';

/** Log verbosity. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
/** Embedding implementations. */
export const EMBEDDING_PROVIDERS = ['local', 'openai'] as const;

/** The local default model: Universal Sentence Encoder Lite (512 dimensions). */
export const LOCAL_EMBEDDING_MODEL = 'universal-sentence-encoder-lite';
/** Dimensions of {@link LOCAL_EMBEDDING_MODEL}. */
export const LOCAL_EMBEDDING_DIMENSIONS = 512;
/** Embedding model for `openai` when none is named. */
export const OPENAI_DEFAULT_EMBEDDING_MODEL = 'text-embedding-3-small';
/** Dimensions for `openai` when none are named (those of the default model). */
export const OPENAI_DEFAULT_DIMENSIONS = 1536;

/** One configurable value: its environment variable, its SDK option path and how to explain it. */
export interface FieldSpec {
  /** Environment variable, e.g. `ANIMUS_DB_POOL_MAX`. */
  readonly env: string;
  /** Path in {@link AnimusOptions}-shaped input, e.g. `poolMax` or `embedding.dimensions`. */
  readonly option: string;
  /** What a valid value looks like, completing "expected …". */
  readonly expect: string;
  /** A valid value for the example in error messages. */
  readonly example: string;
  /** Its value must never appear in a message. */
  readonly secret?: boolean;
}

const PG_URL_EXAMPLE = 'postgres://user:password@127.0.0.1:5432/animus';

/** Every field, keyed by environment variable. The order is the order of `.env.example`. */
export const FIELDS: Readonly<Record<string, FieldSpec>> = Object.fromEntries(
  (
    [
      ['DATABASE_URL', 'databaseUrl', 'a postgres:// URL', PG_URL_EXAMPLE, true],
      ['ANIMUS_DATA_DIR', 'dataDir', 'a directory path', '/var/lib/animus'],
      ['ANIMUS_DB_POOL_MAX', 'poolMax', 'a whole number from 1 to 1000', '10'],
      ['ANIMUS_DB_CONNECT_TIMEOUT_MS', 'connectTimeoutMs', 'a whole number from 100 to 600000', '5000'],
      ['EMBEDDING_PROVIDER', 'embedding.provider', "'local' or 'openai'", 'local'],
      ['EMBEDDING_MODEL', 'embedding.model', 'a model name', 'text-embedding-3-small'],
      ['EMBEDDING_DIMENSIONS', 'embedding.dimensions', 'a whole number from 1 to 16000', '1536'],
      ['OPENAI_API_KEY', 'openai.apiKey', 'an API key', 'sk-...', true],
      ['OPENAI_BASE_URL', 'openai.baseUrl', 'an http(s) URL', 'https://openrouter.ai/api/v1'],
      ['CHAT_MODEL', 'chatModel', 'a model name', 'gpt-4o-mini'],
      ['ANTHROPIC_API_KEY', 'anthropicApiKey', 'an API key', 'sk-ant-...', true],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'telemetry.otlpEndpoint', 'an http(s) URL', 'http://127.0.0.1:4318'],
      ['OTEL_SERVICE_NAME', 'telemetry.serviceName', 'a service name', 'animus'],
      [
        'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT',
        'telemetry.captureContent',
        'true or false',
        'false',
      ],
      ['ANIMUS_OTEL_EXPORT_THREAD', 'telemetry.exportThread', 'true or false', 'true'],
      ['ANIMUS_OTEL_EXPORT_THREAD_NICE', 'telemetry.exportThreadNice', 'a whole number from 0 to 19', '10'],
      ['ANIMUS_OTEL_DIRECT_RECORDING', 'telemetry.directRecording', 'true or false', 'true'],
      ['LOG_LEVEL', 'logLevel', `one of ${LOG_LEVELS.join(', ')}`, 'info'],
      ['ANIMUS_BM25_K1', 'search.bm25K1', 'a number from 0 to 10', '1.2'],
      ['ANIMUS_BM25_B', 'search.bm25B', 'a number from 0 to 1', '0.75'],
      [
        'ANIMUS_KEYWORD_CANDIDATES',
        'search.keywordCandidates',
        "a whole number from 1 to 100000000, or 'all'",
        '500',
      ],
      ['ANIMUS_HTTP_HOST', 'http.host', 'a host name or IP address', '127.0.0.1'],
      ['ANIMUS_HTTP_PORT', 'http.port', 'a whole number from 0 to 65535', '8080'],
      ['ANIMUS_HTTP_BODY_LIMIT', 'http.bodyLimitBytes', 'a whole number from 1024 to 1073741824', '1048576'],
      [
        'ANIMUS_API_TOKEN',
        'http.apiToken',
        'a random string of at least 16 characters',
        '$(openssl rand -hex 32)',
        true,
      ],
      [
        'ANIMUS_QUEUES',
        'work.queues',
        'comma-separated queue names (a letter or _, then letters, digits or _; at most 47 characters)',
        'work,ingest',
      ],
      ['ANIMUS_WORKER_CONCURRENCY', 'work.concurrency', 'a whole number from 1 to 1000', '4'],
      ['ANIMUS_MAX_PARAMS_BYTES', 'work.maxParamsBytes', 'a whole number from 64 to 67108864', '262144'],
      ['ANIMUS_HANDLERS_MODULE', 'work.handlersModule', 'a module path or package name', './handlers.js'],
    ] as const
  ).map(([env, option, expect, example, secret]) => [env, { env, option, expect, example, secret }]),
);

/** The environment variables configuration reads, in documentation order. */
export const ENV_VARIABLES: readonly string[] = Object.keys(FIELDS);

/** The field behind an SDK option path (`work.queues.2` → `work.queues`). */
export function fieldForOption(path: readonly PropertyKey[]): FieldSpec | undefined {
  const key = path.filter((p) => typeof p === 'string').join('.');
  return Object.values(FIELDS).find((f) => f.option === key);
}

const QUEUE_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,46}$/;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '[::1]']);

function checkPostgresUrl(raw: string, ctx: z.RefinementCtx): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value may hold a password: say what is wrong without echoing any of it.
    ctx.addIssue({ code: 'custom', message: 'is not a URL' });
    return;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    ctx.addIssue({
      code: 'custom',
      message: `must use the postgres:// or postgresql:// scheme, got '${url.protocol}//'`,
    });
  } else if (url.hostname === '' && !url.searchParams.has('host')) {
    ctx.addIssue({ code: 'custom', message: 'has no host' });
  }
}

/** The URL with any user:password removed, for messages. */
export function withoutCredentials(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.username === '' && url.password === '') return raw;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return raw.replace(/\/\/[^@/]*@/, '//');
  }
}

const httpUrl = z.string().superRefine((raw, ctx) => {
  let ok = false;
  try {
    const url = new URL(raw);
    ok = url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok)
    ctx.addIssue({ code: 'custom', message: `expected an http(s) URL, got '${withoutCredentials(raw)}'` });
});

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const text = z.string().trim().min(1);

/**
 * SDK options, typed. Defaults are applied here (`prefault` parses the empty object through the
 * nested schema, so nested defaults apply too); cross-field rules run on the whole.
 */
export const optionsSchema = z
  .object({
    databaseUrl: z.string().superRefine(checkPostgresUrl).optional(),
    dataDir: text.optional(),
    poolMax: int(1, 1000).default(10),
    connectTimeoutMs: int(100, 600_000).default(5000),
    embedding: z
      .object({
        provider: z.enum(EMBEDDING_PROVIDERS).default('local'),
        model: text.optional(),
        dimensions: int(1, 16_000).optional(),
      })
      .prefault({}),
    openai: z.object({ apiKey: text.optional(), baseUrl: httpUrl.optional() }).prefault({}),
    chatModel: text.optional(),
    anthropicApiKey: text.optional(),
    telemetry: z
      .object({
        otlpEndpoint: httpUrl.optional(),
        captureContent: z.boolean().default(false),
        serviceName: text.default('animus'),
        exportThread: z.boolean().default(true),
        exportThreadNice: int(0, 19).default(10),
        directRecording: z.boolean().default(true),
      })
      .prefault({}),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    search: z
      .object({
        bm25K1: z.number().min(0).max(10).default(1.2),
        bm25B: z.number().min(0).max(1).default(0.75),
        keywordCandidates: z.union([int(1, 100_000_000), z.literal('all')]).default(500),
      })
      .prefault({}),
    http: z
      .object({
        host: text.default('127.0.0.1'),
        port: int(0, 65_535).default(8080),
        apiToken: z.string().min(16).optional(),
        bodyLimitBytes: int(1024, 1024 ** 3).default(1024 * 1024),
      })
      .prefault({}),
    work: z
      .object({
        queues: z.array(z.string().regex(QUEUE_NAME)).min(1).default(['work']),
        concurrency: int(1, 1000).default(4),
        maxParamsBytes: int(64, 64 * 1024 * 1024).default(256 * 1024),
        handlersModule: text.optional(),
      })
      .prefault({}),
  })
  .superRefine((o, ctx) => {
    const { provider, model, dimensions } = o.embedding;
    if (provider === 'local' && model !== undefined && model !== LOCAL_EMBEDDING_MODEL) {
      ctx.addIssue({
        code: 'custom',
        path: ['embedding', 'model'],
        message: `the local provider has only '${LOCAL_EMBEDDING_MODEL}', got '${model}'`,
      });
    }
    if (provider === 'local' && dimensions !== undefined && dimensions !== LOCAL_EMBEDDING_DIMENSIONS) {
      ctx.addIssue({
        code: 'custom',
        path: ['embedding', 'dimensions'],
        message: `the local model has ${LOCAL_EMBEDDING_DIMENSIONS} dimensions, got ${dimensions}: leave it unset, or choose the openai provider for other sizes`,
      });
    }
    if (provider === 'openai' && o.openai.apiKey === undefined && o.openai.baseUrl === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['openai', 'apiKey'],
        message:
          'is required when the embedding provider is openai (or set OPENAI_BASE_URL to a keyless endpoint)',
      });
    }
    if (!LOOPBACK.has(o.http.host) && o.http.apiToken === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['http', 'apiToken'],
        message: `is required when the HTTP API listens beyond loopback (host '${o.http.host}')`,
      });
    }
  });

/** Parsed SDK options: every default filled in. */
export type ParsedOptions = z.output<typeof optionsSchema>;

/** An environment value: blank counts as unset; surrounding spaces are dropped. */
const envText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const envInt = envText.pipe(
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number)
    .optional(),
);
const envNumber = envText.pipe(
  z
    .string()
    .regex(/^-?(\d+\.?\d*|\.\d+)$/)
    .transform(Number)
    .optional(),
);
const TRUE: readonly string[] = ['1', 'true', 'yes', 'on'];
const FALSE: readonly string[] = ['0', 'false', 'no', 'off'];
const envBool = envText.pipe(
  z
    .string()
    .toLowerCase()
    .pipe(z.enum([...TRUE, ...FALSE]))
    .transform((v) => TRUE.includes(v))
    .optional(),
);
const envList = envText.transform((v) =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
);

/** Environment variables as strings, converted to the option values they stand for. */
export const envSchema = z.object({
  DATABASE_URL: envText,
  ANIMUS_DATA_DIR: envText,
  ANIMUS_DB_POOL_MAX: envInt,
  ANIMUS_DB_CONNECT_TIMEOUT_MS: envInt,
  EMBEDDING_PROVIDER: envText,
  EMBEDDING_MODEL: envText,
  EMBEDDING_DIMENSIONS: envInt,
  OPENAI_API_KEY: envText,
  OPENAI_BASE_URL: envText,
  CHAT_MODEL: envText,
  ANTHROPIC_API_KEY: envText,
  OTEL_EXPORTER_OTLP_ENDPOINT: envText,
  OTEL_SERVICE_NAME: envText,
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: envBool,
  ANIMUS_OTEL_EXPORT_THREAD: envBool,
  ANIMUS_OTEL_EXPORT_THREAD_NICE: envInt,
  ANIMUS_OTEL_DIRECT_RECORDING: envBool,
  LOG_LEVEL: envText.transform((v) => v?.toLowerCase()),
  ANIMUS_BM25_K1: envNumber,
  ANIMUS_BM25_B: envNumber,
  ANIMUS_KEYWORD_CANDIDATES: envText.pipe(
    z.union([z.literal('all'), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  ),
  ANIMUS_HTTP_HOST: envText,
  ANIMUS_HTTP_PORT: envInt,
  ANIMUS_HTTP_BODY_LIMIT: envInt,
  ANIMUS_API_TOKEN: envText,
  ANIMUS_QUEUES: envList,
  ANIMUS_WORKER_CONCURRENCY: envInt,
  ANIMUS_MAX_PARAMS_BYTES: envInt,
  ANIMUS_HANDLERS_MODULE: envText,
});

/** Parsed environment: each variable's converted value, or `undefined` when unset. */
export type ParsedEnv = z.output<typeof envSchema>;
