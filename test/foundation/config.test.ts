// Config from the environment and from SDK options: defaults, full valid input, missing and
// malformed values. Each failure must name the variable, say what is wrong and give an example.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromEnv, defaultDataDir, resolveConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, got none');
}

describe('configFromEnv: valid input', () => {
  it('fills every default from an empty environment', () => {
    const c = configFromEnv({ HOME: '/home/ada' });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toBe('/home/ada/.local/share/animus');
    expect(c.db).toEqual({ poolMax: 10, connectTimeoutMs: 5000 });
    expect(c.embedding).toEqual({
      provider: 'local',
      model: 'universal-sentence-encoder-lite',
      dimensions: 512,
    });
    expect(c.telemetry).toEqual({
      otlpEndpoint: undefined,
      captureContent: false,
      serviceName: 'animus',
      exportThread: true,
      exportThreadNice: 10,
      directRecording: true,
    });
    expect(c.logLevel).toBe('info');
    expect(c.search).toEqual({ bm25K1: 1.2, bm25B: 0.75, keywordCandidates: 500 });
    expect(c.http).toMatchObject({ host: '127.0.0.1', port: 8080, bodyLimitBytes: 1048576 });
    expect(c.http.apiToken).toBeUndefined();
    expect(c.work).toEqual({
      queues: ['work'],
      concurrency: 4,
      maxParamsBytes: 262144,
      handlersModule: undefined,
    });
  });

  it('puts the data directory under XDG_DATA_HOME when set', () => {
    expect(configFromEnv({ XDG_DATA_HOME: '/xdg', HOME: '/home/ada' }).dataDir).toBe('/xdg/animus');
    expect(defaultDataDir({ XDG_DATA_HOME: '', HOME: '/h' })).toBe('/h/.local/share/animus');
  });

  it('reads every variable', () => {
    const c = configFromEnv({
      DATABASE_URL: 'postgres://animus:pw@db.internal:6543/animus',
      ANIMUS_DATA_DIR: '/srv/animus',
      ANIMUS_DB_POOL_MAX: '25',
      ANIMUS_DB_CONNECT_TIMEOUT_MS: ' 2500 ',
      EMBEDDING_PROVIDER: 'openai',
      EMBEDDING_MODEL: 'text-embedding-3-large',
      EMBEDDING_DIMENSIONS: '3072',
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: 'https://openrouter.ai/api/v1',
      CHAT_MODEL: 'gpt-4o-mini',
      ANTHROPIC_API_KEY: 'sk-ant-test',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_SERVICE_NAME: 'animus-prod',
      OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'YES',
      ANIMUS_OTEL_EXPORT_THREAD: 'off',
      ANIMUS_OTEL_EXPORT_THREAD_NICE: '0',
      ANIMUS_OTEL_DIRECT_RECORDING: 'no',
      LOG_LEVEL: 'DEBUG',
      ANIMUS_BM25_K1: '0.9',
      ANIMUS_BM25_B: '.4',
      ANIMUS_KEYWORD_CANDIDATES: '2000',
      ANIMUS_HTTP_HOST: '0.0.0.0',
      ANIMUS_HTTP_PORT: '9000',
      ANIMUS_HTTP_BODY_LIMIT: '2048',
      ANIMUS_API_TOKEN: '0123456789abcdef0123',
      ANIMUS_QUEUES: 'work, ingest ,,',
      ANIMUS_WORKER_CONCURRENCY: '8',
      ANIMUS_MAX_PARAMS_BYTES: '1024',
      ANIMUS_HANDLERS_MODULE: './handlers.js',
    });
    expect(c.databaseUrl?.reveal()).toBe('postgres://animus:pw@db.internal:6543/animus');
    expect(c.dataDir).toBe('/srv/animus');
    expect(c.db).toEqual({ poolMax: 25, connectTimeoutMs: 2500 });
    expect(c.embedding).toEqual({ provider: 'openai', model: 'text-embedding-3-large', dimensions: 3072 });
    expect(c.openai.apiKey?.reveal()).toBe('sk-test');
    expect(c.openai.baseUrl).toBe('https://openrouter.ai/api/v1');
    expect(c.chatModel).toBe('gpt-4o-mini');
    expect(c.anthropicApiKey?.reveal()).toBe('sk-ant-test');
    expect(c.telemetry).toEqual({
      otlpEndpoint: 'http://127.0.0.1:4318',
      captureContent: true,
      serviceName: 'animus-prod',
      exportThread: false,
      exportThreadNice: 0,
      directRecording: false,
    });
    expect(c.logLevel).toBe('debug');
    expect(c.search).toEqual({ bm25K1: 0.9, bm25B: 0.4, keywordCandidates: 2000 });
    expect(configFromEnv({ ANIMUS_KEYWORD_CANDIDATES: 'all' }).search.keywordCandidates).toBeNull();
    expect(c.http).toMatchObject({ host: '0.0.0.0', port: 9000, bodyLimitBytes: 2048 });
    expect(c.http.apiToken?.reveal()).toBe('0123456789abcdef0123');
    expect(c.work).toEqual({
      queues: ['work', 'ingest'],
      concurrency: 8,
      maxParamsBytes: 1024,
      handlersModule: './handlers.js',
    });
  });

  it('makes a relative data directory absolute', () => {
    expect(configFromEnv({ ANIMUS_DATA_DIR: 'var/animus' }).dataDir).toBe(join(process.cwd(), 'var/animus'));
    expect(resolveConfig({ dataDir: './x' }).dataDir).toBe(join(process.cwd(), 'x'));
  });

  it('treats blank values as unset', () => {
    const c = configFromEnv({ DATABASE_URL: '  ', ANIMUS_DB_POOL_MAX: '', LOG_LEVEL: ' ', HOME: '/h' });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.db.poolMax).toBe(10);
    expect(c.logLevel).toBe('info');
  });

  it('uses the openai defaults and accepts a keyless OpenAI-compatible endpoint', () => {
    const c = configFromEnv({ EMBEDDING_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' });
    expect(c.embedding).toEqual({ provider: 'openai', model: 'text-embedding-3-small', dimensions: 1536 });
    expect(c.openai.apiKey).toBeUndefined();
  });

  it('accepts a postgresql:// URL with a unix-socket host parameter', () => {
    const c = configFromEnv({ DATABASE_URL: 'postgresql:///animus?host=/var/run/postgresql' });
    expect(c.databaseUrl?.reveal()).toContain('/var/run/postgresql');
  });
});

describe('configFromEnv: missing and malformed values', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['ANIMUS_DB_POOL_MAX', { ANIMUS_DB_POOL_MAX: 'ten' }, /whole number from 1 to 1000, got 'ten'/],
    ['ANIMUS_DB_POOL_MAX', { ANIMUS_DB_POOL_MAX: '0' }, /whole number from 1 to 1000, got 0/],
    ['ANIMUS_DB_POOL_MAX', { ANIMUS_DB_POOL_MAX: '2.5' }, /whole number/],
    ['ANIMUS_DB_CONNECT_TIMEOUT_MS', { ANIMUS_DB_CONNECT_TIMEOUT_MS: '50' }, /from 100 to 600000/],
    ['EMBEDDING_PROVIDER', { EMBEDDING_PROVIDER: 'cohere' }, /'local' or 'openai', got 'cohere'/],
    ['EMBEDDING_DIMENSIONS', { EMBEDDING_DIMENSIONS: '768' }, /local model has 512 dimensions, got 768/],
    ['EMBEDDING_MODEL', { EMBEDDING_MODEL: 'bge-small' }, /local provider has only/],
    [
      'EMBEDDING_DIMENSIONS',
      { EMBEDDING_PROVIDER: 'openai', OPENAI_API_KEY: 'k', EMBEDDING_DIMENSIONS: '20000' },
      /from 1 to 16000, got 20000/,
    ],
    ['OPENAI_API_KEY', { EMBEDDING_PROVIDER: 'openai' }, /is required when the embedding provider is openai/],
    ['OPENAI_BASE_URL', { OPENAI_BASE_URL: 'openrouter.ai' }, /expected an http\(s\) URL/],
    [
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' },
      /http\(s\) URL/,
    ],
    [
      'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT',
      { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'maybe' },
      /expected true or false, got 'maybe'/,
    ],
    [
      'ANIMUS_OTEL_EXPORT_THREAD',
      { ANIMUS_OTEL_EXPORT_THREAD: 'sometimes' },
      /expected true or false, got 'sometimes'/,
    ],
    [
      'ANIMUS_OTEL_EXPORT_THREAD_NICE',
      { ANIMUS_OTEL_EXPORT_THREAD_NICE: '20' },
      /whole number from 0 to 19, got 20/,
    ],
    ['ANIMUS_OTEL_EXPORT_THREAD_NICE', { ANIMUS_OTEL_EXPORT_THREAD_NICE: 'low' }, /got 'low'/],
    [
      'ANIMUS_OTEL_DIRECT_RECORDING',
      { ANIMUS_OTEL_DIRECT_RECORDING: 'fast' },
      /expected true or false, got 'fast'/,
    ],
    ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }, /one of debug, info, warn, error, silent, got 'verbose'/],
    ['ANIMUS_BM25_K1', { ANIMUS_BM25_K1: 'high' }, /number from 0 to 10, got 'high'/],
    ['ANIMUS_BM25_K1', { ANIMUS_BM25_K1: '-1' }, /number from 0 to 10, got -1/],
    ['ANIMUS_BM25_B', { ANIMUS_BM25_B: '1.5' }, /number from 0 to 1, got 1.5/],
    [
      'ANIMUS_KEYWORD_CANDIDATES',
      { ANIMUS_KEYWORD_CANDIDATES: '0' },
      /whole number from 1 .* or 'all', got 0/,
    ],
    ['ANIMUS_KEYWORD_CANDIDATES', { ANIMUS_KEYWORD_CANDIDATES: 'every' }, /or 'all', got 'every'/],
    ['ANIMUS_HTTP_PORT', { ANIMUS_HTTP_PORT: '70000' }, /from 0 to 65535/],
    ['ANIMUS_HTTP_BODY_LIMIT', { ANIMUS_HTTP_BODY_LIMIT: '1' }, /from 1024/],
    [
      'ANIMUS_API_TOKEN',
      { ANIMUS_HTTP_HOST: '0.0.0.0' },
      /required when the HTTP API listens beyond loopback/,
    ],
    ['ANIMUS_QUEUES', { ANIMUS_QUEUES: 'work,bad-name' }, /queue names.*got 'bad-name'/],
    ['ANIMUS_QUEUES', { ANIMUS_QUEUES: 'q'.repeat(48) }, /at most 47/],
    ['ANIMUS_WORKER_CONCURRENCY', { ANIMUS_WORKER_CONCURRENCY: '-1' }, /from 1 to 1000/],
    ['ANIMUS_MAX_PARAMS_BYTES', { ANIMUS_MAX_PARAMS_BYTES: '1e6' }, /whole number/],
    ['DATABASE_URL', { DATABASE_URL: 'localhost:5432' }, /scheme|not a URL/],
  ];
  it.each(cases)('%s: %j', (variable, env, what) => {
    const err = configError(() => configFromEnv(env));
    expect(err.variable).toBe(variable);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
    expect(err.message).toMatch(what);
    expect(err.message).toMatch(new RegExp(`\\(example: ${variable}=\\S`));
  });
});

describe('resolveConfig: SDK options', () => {
  it('defaults everything', () => {
    const c = resolveConfig();
    expect(c.db.poolMax).toBe(10);
    expect(c.embedding.dimensions).toBe(512);
  });

  it('names the option path, its variable and an example', () => {
    const err = configError(() =>
      resolveConfig({ embedding: { provider: 'openai', dimensions: 0 }, openai: { apiKey: 'k' } }),
    );
    expect(err.variable).toBe('embedding.dimensions');
    expect(err.message).toMatch(/^embedding\.dimensions: expected a whole number from 1 to 16000, got 0/);
    expect(err.message).toContain('variable EMBEDDING_DIMENSIONS');
    expect(err.message).toContain('example: embedding.dimensions = 1536');
  });

  it('rejects values of the wrong type', () => {
    const err = configError(() => resolveConfig({ poolMax: '10' as unknown as number }));
    expect(err.variable).toBe('poolMax');
    expect(err.message).toContain(`got '10'`);
    const queues = configError(() => resolveConfig({ work: { queues: [] } }));
    expect(queues.variable).toBe('work.queues');
  });
});
