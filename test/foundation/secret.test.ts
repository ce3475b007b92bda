// Secrets never show through any output path: toString, String(), template literals,
// concatenation, JSON, util.inspect / console formatting (alone and nested in the config), and
// the messages, stacks and serialisations of config errors. `reveal()` is the only way in.
import { format, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configFromEnv, resolveConfig, Secret } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

const VALUE = 'hunter2-S3CRET-value';

/** Every way a value commonly reaches a log line or a response. */
function renderings(value: unknown): string[] {
  return [
    String(value),
    `${value as string}`,
    '' + (value as string),
    JSON.stringify(value),
    JSON.stringify({ nested: { value } }),
    inspect(value),
    inspect(value, { depth: Infinity, showHidden: true, getters: true }),
    inspect(value, { customInspect: false, depth: Infinity, showHidden: true }),
    format('%s %o %O %j', value, value, value, value),
    format(value),
    JSON.stringify(structuredCloneOrEmpty(value)),
  ];
}

function structuredCloneOrEmpty(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return {};
  }
}

describe('Secret', () => {
  it('hides its value in every rendering and gives it up only through reveal()', () => {
    const secret = new Secret(VALUE);
    for (const text of renderings(secret)) expect(text).not.toContain(VALUE);
    expect(String(secret)).toBe('[redacted]');
    expect(JSON.stringify(secret)).toBe('"[redacted]"');
    expect(inspect(secret)).toBe('Secret([redacted])');
    expect(Object.keys(secret)).toEqual([]);
    expect(secret.reveal()).toBe(VALUE);
  });

  it('hides every secret of a whole config', () => {
    const config = configFromEnv({
      DATABASE_URL: `postgres://animus:${VALUE}@db:5432/animus`,
      EMBEDDING_PROVIDER: 'openai',
      OPENAI_API_KEY: `sk-${VALUE}`,
      ANTHROPIC_API_KEY: `ant-${VALUE}`,
      ANIMUS_API_TOKEN: `tok-${VALUE}`,
    });
    for (const text of renderings(config)) expect(text).not.toContain(VALUE);
    expect(config.databaseUrl?.reveal()).toContain(VALUE);
    expect(config.openai.apiKey?.reveal()).toBe(`sk-${VALUE}`);
    expect(config.anthropicApiKey?.reveal()).toBe(`ant-${VALUE}`);
    expect(config.http.apiToken?.reveal()).toBe(`tok-${VALUE}`);
  });
});

describe('config errors never carry a secret', () => {
  const bad: Array<[string, () => unknown]> = [
    ['DATABASE_URL not a URL', () => configFromEnv({ DATABASE_URL: `postgres://u:${VALUE} @ host` })],
    ['DATABASE_URL wrong scheme', () => configFromEnv({ DATABASE_URL: `mysql://u:${VALUE}@host/db` })],
    ['DATABASE_URL no host', () => configFromEnv({ DATABASE_URL: `postgres://:${VALUE}@/db` })],
    ['ANIMUS_API_TOKEN too short', () => configFromEnv({ ANIMUS_API_TOKEN: VALUE.slice(0, 10) })],
    [
      'OPENAI_BASE_URL with credentials',
      () => configFromEnv({ OPENAI_BASE_URL: `ftp://user:${VALUE}@proxy/v1` }),
    ],
    ['SDK databaseUrl', () => resolveConfig({ databaseUrl: `redis://:${VALUE}@cache` })],
    ['SDK apiToken', () => resolveConfig({ http: { apiToken: VALUE.slice(0, 12) } })],
    [
      'SDK key given where an object belongs',
      () => resolveConfig({ openai: `sk-${VALUE}` as unknown as { apiKey: string } }),
    ],
  ];
  it.each(bad)('%s', (_name, fn) => {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    const secretPart = VALUE.slice(0, 10);
    for (const text of [
      err.message,
      String(err.stack),
      inspect(err, { depth: Infinity }),
      JSON.stringify(err),
    ]) {
      expect(text).not.toContain(secretPart);
    }
    expect(err.cause).toBeUndefined();
  });

  it('tells the length of a secret that is too short, not its value', () => {
    try {
      configFromEnv({ ANIMUS_API_TOKEN: 'abcdefgh' });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toContain('got a value of 8 characters');
      expect((err as Error).message).not.toContain('abcdefgh');
    }
  });
});
