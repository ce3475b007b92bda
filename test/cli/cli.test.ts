// The `animus` CLI in-process (runCli with captured streams) against a real database: every
// command's --help, usage/config/validation/not-found exit codes, --json output, and the
// work and memory commands end to end, including `memory import --wait`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnimusConfig } from '../../src/config/index.js';
import { buildProgram, type CommandContext, runCli } from '../../src/cli/program.js';
import { testConfig } from '../service/support.js';
import { startOpenAIServer } from '../support/openai-server.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

let config: AnimusConfig;
let cleanup: () => Promise<void>;
let env: Record<string, string | undefined>;
let docs: string;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  env = {
    ...(config.databaseUrl === undefined
      ? { ANIMUS_DATA_DIR: config.dataDir }
      : { DATABASE_URL: config.databaseUrl.reveal(), ANIMUS_DB_POOL_MAX: '4' }),
    ANIMUS_WORKER_CONCURRENCY: '2',
    LOG_LEVEL: 'warn',
  };
  docs = await mkdtemp(join(tmpdir(), 'animus-cli-docs-'));
});

afterAll(async () => {
  await cleanup();
  await rm(docs, { recursive: true, force: true });
});

async function cli(args: string[], extraEnv: Record<string, string> = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(args, { stdout, stderr, env: { ...env, ...extraEnv } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

async function json<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const r = await cli(['--json', ...args]);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

function allCommands(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...allCommands(c, [...prefix, c.name()])]);
}

describe('help and usage', () => {
  const ctx = {} as CommandContext;
  const commands = allCommands(buildProgram(ctx));

  it('lists the documented commands', () => {
    expect(commands.map((c) => c.join(' '))).toEqual(
      expect.arrayContaining([
        'serve',
        'migrate',
        'doctor',
        'demo',
        'work submit',
        'work get',
        'work list',
        'work retry',
        'work cancel',
        'work stats',
        'memory add',
        'memory import',
        'memory search',
        'memory reembed',
      ]),
    );
  });

  it('--help works on every command and exits 0', async () => {
    for (const c of [[], ...commands]) {
      const r = await cli([...c, '--help']);
      expect(r.code, c.join(' ')).toBe(0);
      expect(r.stdout, c.join(' ')).toContain(`Usage: animus${c.length > 0 ? ` ${c.join(' ')}` : ''}`);
    }
    expect((await cli(['--help'])).stdout).toContain('Exit codes:');
  });

  it('bad command lines exit 64', async () => {
    expect((await cli(['frobnicate'])).code).toBe(64);
    expect((await cli([])).code).toBe(64); // no command: help on stderr, usage error
    expect((await cli(['work'])).code).toBe(64);
    expect((await cli(['work', 'submit', '--source', 'x'])).code).toBe(64); // missing --type
    const limit = await cli(['work', 'list', '--limit', 'lots']);
    expect(limit.code).toBe(64);
    expect(limit.stderr).toContain('--limit');
    const params = await cli(['work', 'submit', '-t', 'x', '-s', 'y', '--params', '{oops']);
    expect(params.code).toBe(64);
    expect(params.stderr).toContain('--params: not valid JSON');
    expect((await cli(['memory', 'search', 'x', '--mode', 'fuzzy'])).code).toBe(64);
  });

  it('a bad configuration exits 78 naming the variable (JSON on stderr with --json)', async () => {
    const r = await cli(['--json', 'work', 'stats'], { EMBEDDING_PROVIDER: 'psychic' });
    expect(r.code).toBe(78);
    const err = JSON.parse(r.stderr) as { error: { code: string; variable: string; message: string } };
    expect(err.error.code).toBe('CONFIG_INVALID');
    expect(err.error.variable).toBe('EMBEDDING_PROVIDER');
    expect(r.stdout).toBe('');
  });
});

describe('migrate and doctor', () => {
  it('migrate applies, migrate --status reports all applied', async () => {
    const first = await json<{ migrations: { state: string }[] }>(['migrate']);
    expect(first.migrations.length).toBeGreaterThan(3);
    const status = await json<{ migrations: { state: string }[] }>(['migrate', '--status']);
    expect(status.migrations.every((m) => m.state === 'applied')).toBe(true);
    const human = await cli(['migrate', '--status']);
    expect(human.stdout).toMatch(/0001 extensions\s+applied/);
  });

  it('doctor reports the database, pgvector, pgmq, migrations and dimension as ok', async () => {
    const r = await json<{ ok: boolean; checks: { name: string; status: string; detail: string }[] }>([
      'doctor',
    ]);
    expect(r.ok).toBe(true);
    const byName = Object.fromEntries(r.checks.map((c) => [c.name, c]));
    for (const name of ['database', 'postgres', 'pgvector', 'pgmq', 'migrations', 'embedding dimension']) {
      expect(byName[name]?.status, name).toBe('ok');
    }
    expect(byName['embedding dimension']!.detail).toContain('512');
  });

  it('doctor fails (exit 1) when the OTLP endpoint is unreachable', async () => {
    const r = await cli(['doctor', '--timeout', '1000'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL\s+otlp endpoint/);
  });
});

describe('work commands', () => {
  let id: string;

  it('submit, get, list', async () => {
    const submitted = await json<{ status: string; id: string }>([
      'work',
      'submit',
      '-t',
      'cli.test',
      '-s',
      'cli',
      '-p',
      '{"n":1}',
      '--trigger',
      '{"by":"test"}',
      '-k',
      'k1',
    ]);
    expect(submitted.status).toBe('queued');
    id = submitted.id;
    const merged = await json<{ status: string; mergedInto: string }>([
      'work',
      'submit',
      '-t',
      'cli.test',
      '-s',
      'cli2',
      '-k',
      'k1',
    ]);
    expect(merged).toMatchObject({ status: 'merged', mergedInto: id });
    const item = await json<{ state: string; params: unknown; triggerInfo: unknown }>(['work', 'get', id]);
    expect(item).toMatchObject({ state: 'queued', params: { n: 1 }, triggerInfo: { by: 'test' } });
    const list = await json<{ items: { id: string }[] }>([
      'work',
      'list',
      '--type',
      'cli.test',
      '--state',
      'queued',
    ]);
    expect(list.items.map((i) => i.id)).toEqual([id]);
    const human = await cli(['work', 'get', id]);
    expect(human.stdout).toContain(`id:           ${id}`);
  });

  it('cancel, retry, stats', async () => {
    expect((await cli(['work', 'cancel', id])).code).toBe(0);
    expect((await json<{ state: string }>(['work', 'get', id])).state).toBe('cancelled');
    // Cancelling again is not allowed: exit 1.
    expect((await cli(['work', 'cancel', id])).code).toBe(1);
    const retried = await json<{ id: string }>(['work', 'retry', id]);
    expect(retried.id).toBe(id);
    const stats = await json<{ queues: { queue: string; queueLength: number }[] }>(['work', 'stats']);
    expect(stats.queues.find((q) => q.queue === 'work')?.queueLength).toBe(1);
  });

  it('not found exits 1, a malformed id exits 65 naming the field', async () => {
    const missing = await cli(['work', 'get', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found');
    const bad = await cli(['--json', 'work', 'get', 'nope']);
    expect(bad.code).toBe(65);
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: 'VALIDATION_FAILED', field: 'id' } });
  });
});

describe('memory commands', () => {
  it('add and search in each mode', async () => {
    const stored = await json<{ id: string; created: boolean }>([
      'memory',
      'add',
      'The',
      'kiln',
      'in',
      'the',
      'pottery',
      'shed',
      'fires',
      'on',
      'Thursdays.',
      '-s',
      'cli-test',
      '-m',
      '{"room":"shed"}',
    ]);
    expect(stored.created).toBe(true);
    for (const mode of ['vector', 'text', 'hybrid']) {
      const r = await json<{ hits: { memory: { content: string; metadata: unknown } }[]; tookMs: number }>([
        'memory',
        'search',
        'kiln',
        'pottery',
        '--mode',
        mode,
        '--source',
        'cli-test',
      ]);
      expect(r.hits[0]?.memory.content, mode).toContain('kiln');
      expect(r.hits[0]?.memory.metadata).toEqual({ room: 'shed' });
    }
    const human = await cli(['memory', 'search', 'kiln', '--mode', 'text']);
    expect(human.stdout).toMatch(/text search "kiln" \([\d.]+ ms\)\n {2}1\. \[/);
  });

  it('import --wait ingests a directory through the queue; a re-import changes nothing', async () => {
    await writeFile(
      join(docs, 'bees.md'),
      '# Bees\n\nThe hives by the orchard are inspected every ten days in summer.',
    );
    await writeFile(join(docs, 'notes.txt'), 'Swarm season starts in May; keep a spare hive ready.');
    await writeFile(join(docs, 'skip.json'), '{"not": "a document"}');
    const r = await json<{ files: number; failed: number; items: Record<string, string> }>([
      'memory',
      'import',
      docs,
      '--wait',
    ]);
    expect(r.files).toBe(2);
    expect(r.failed).toBe(0);
    expect(Object.values(r.items)).toEqual(['completed', 'completed']);
    const hits = await json<{ hits: { memory: { source: string; metadata: Record<string, unknown> } }[] }>([
      'memory',
      'search',
      'orchard',
      'hives',
      '--mode',
      'text',
    ]);
    expect(hits.hits[0]?.memory.source).toBe(`file://${join(docs, 'bees.md')}`);
    expect(hits.hits[0]?.memory.metadata.title).toBe('Bees');
    const again = await json<{ items: Record<string, string> }>(['memory', 'import', docs, '--wait']);
    for (const itemId of Object.keys(again.items)) {
      const item = await json<{ outcomeData: { status: string } }>(['work', 'get', itemId]);
      expect(item.outcomeData.status).toBe('unchanged');
    }
  });

  it('reembed --wait re-embeds every memory through the queue and keeps search working', async () => {
    const before = await json<{ plan: { total: number } }>(['memory', 'reembed', '--dry-run']);
    const r = await json<{ id: string; state: string }>(['memory', 'reembed', '--wait', '--batch-size', '2']);
    expect(r.state).toBe('completed');
    const item = await json<{ outcomeData: { reembedded: number; dimensions: number } }>([
      'work',
      'get',
      r.id,
    ]);
    expect(item.outcomeData).toMatchObject({ reembedded: before.plan.total, dimensions: 512 });
    const hits = await json<{ hits: { memory: { content: string } }[] }>([
      'memory',
      'search',
      'kiln',
      '--mode',
      'vector',
    ]);
    expect(hits.hits[0]?.memory.content).toContain('kiln');
  });

  it('after a change of embedding model and dimension, start-up refuses with the way out and reembed moves the database', async () => {
    const server = await startOpenAIServer({ defaultDimensions: 8 });
    const switched = {
      EMBEDDING_PROVIDER: 'openai',
      EMBEDDING_MODEL: 'tiny-embed',
      EMBEDDING_DIMENSIONS: '8',
      OPENAI_BASE_URL: server.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
    };
    try {
      const refused = await cli(['memory', 'search', 'kiln', '--mode', 'vector'], switched);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/stores 512-dimension embeddings but EMBEDDING_DIMENSIONS is 8/);
      expect(refused.stderr).toMatch(/animus memory reembed/);
      // Without --wait: nothing else can start on this database, so it runs in this process.
      const moved = await cli(['--json', 'memory', 'reembed', '--batch-size', '3'], switched);
      expect(moved.code, moved.stderr).toBe(0);
      expect(JSON.parse(moved.stdout)).toMatchObject({ state: 'completed' });
      expect(server.requests.some((r) => r.path.endsWith('/embeddings'))).toBe(true);
      const hits = await cli(['--json', 'memory', 'search', 'kiln', '--mode', 'vector'], switched);
      expect(hits.code, hits.stderr).toBe(0);
      expect((JSON.parse(hits.stdout) as { hits: unknown[] }).hits.length).toBeGreaterThan(0);
      // And back to the local model the same way.
      const back = await cli(['--json', 'memory', 'reembed'], {});
      expect(back.code, back.stderr).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('import of a missing path exits 66; reembed --dry-run shows the plan', async () => {
    expect((await cli(['memory', 'import', join(docs, 'nope')])).code).toBe(66);
    const plan = await json<{ plan: { total: number; target: { dimensions: number } } }>([
      'memory',
      'reembed',
      '--dry-run',
    ]);
    expect(plan.plan.total).toBeGreaterThanOrEqual(3);
    expect(plan.plan.target.dimensions).toBe(512);
  });
});
