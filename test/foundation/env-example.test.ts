// `.env.example` documents every variable configuration reads, each with a one-line
// explanation, and the defaults it shows are the defaults configuration really uses;
// README.md ("Configuration") lists every variable too.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configFromEnv, ENV_VARIABLES } from '../../src/config/index.js';
import { envSchema } from '../../src/config/schema.js';

const root = new URL('../../', import.meta.url);
const example = readFileSync(new URL('.env.example', root), 'utf8');

interface Entry {
  name: string;
  value: string;
  commented: boolean;
  explained: boolean;
}

function parseExample(text: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const m = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m === null) return;
    const previous = lines[i - 1]?.trim() ?? '';
    entries.set(m[2]!, {
      name: m[2]!,
      value: m[3]!.trim(),
      commented: m[1] !== undefined,
      explained: previous.startsWith('#') && !/^#\s*[A-Z][A-Z0-9_]*=/.test(previous),
    });
  });
  return entries;
}

/** The variable names configFromEnv actually looks up, recorded through a Proxy. */
function variablesRead(): Set<string> {
  const seen = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get(target, key) {
      if (typeof key === 'string') seen.add(key);
      return Reflect.get(target, key) as unknown;
    },
  });
  configFromEnv(env);
  return seen;
}

describe('.env.example', () => {
  const entries = parseExample(example);

  it('lists every variable of the schema, set (not commented out) and explained on the line above', () => {
    for (const name of ENV_VARIABLES) {
      const entry = entries.get(name);
      expect(entry, `${name} missing from .env.example`).toBeDefined();
      expect(entry!.commented, `${name} is commented out`).toBe(false);
      expect(entry!.explained, `${name} has no explanation line`).toBe(true);
    }
  });

  it('documents every variable configFromEnv reads', () => {
    const read = variablesRead();
    // HOME is the operating system's, read only to build the default data directory.
    read.delete('HOME');
    expect(read.size).toBeGreaterThanOrEqual(ENV_VARIABLES.length);
    for (const name of read) expect(entries.has(name), `${name} is read but not documented`).toBe(true);
  });

  it('documents every variable the config sources mention', () => {
    // Static counterpart of the Proxy check: `env.NAME`, `env['NAME']` and the schema's `NAME: env…` keys.
    const dir = new URL('src/config/', root);
    const named = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      for (const m of source.matchAll(/\benv(?:\.|\[')([A-Z][A-Z0-9_]+)|^\s+([A-Z][A-Z0-9_]+): env[A-Z]/gm)) {
        named.add(m[1] ?? m[2]!);
      }
    }
    named.delete('HOME');
    expect(named.size).toBeGreaterThanOrEqual(ENV_VARIABLES.length);
    for (const name of named)
      expect(entries.has(name), `${name} is in src/config but not documented`).toBe(true);
  });

  it('has the schema and the field table describe the same variables', () => {
    expect(Object.keys(envSchema.shape).sort()).toEqual([...ENV_VARIABLES].sort());
  });

  it('shows the real defaults: setting a documented value changes nothing', () => {
    const defaults = JSON.stringify(configFromEnv({ HOME: '/h' }));
    for (const entry of entries.values()) {
      if (entry.commented || entry.value === '') continue;
      const withValue = JSON.stringify(configFromEnv({ HOME: '/h', [entry.name]: entry.value }));
      expect(withValue, `${entry.name}=${entry.value} is not the default`).toBe(defaults);
    }
  });

  it('is itself a valid configuration', () => {
    const env: Record<string, string> = { HOME: '/h' };
    for (const entry of entries.values()) if (!entry.commented) env[entry.name] = entry.value;
    expect(() => configFromEnv(env)).not.toThrow();
  });
});

describe('README.md ("Configuration")', () => {
  it('has a table row for every variable', () => {
    const doc = readFileSync(new URL('README.md', root), 'utf8');
    for (const name of ENV_VARIABLES) expect(doc, name).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
  });
});
