// The HTTP API end to end on a random loopback port, against the real service (workers,
// embedded or server Postgres, the offline embedding model): auth, validation errors that
// name the field, body limits, OpenAPI, and submit → processed → searchable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { startService } from '../../src/service/service.js';
import { startTestService, TEST_TOKEN, type TestService, waitFor } from './support.js';

let svc: TestService;

beforeAll(async () => {
  svc = await startTestService({ http: { bodyLimitBytes: 64 * 1024 } });
});

afterAll(async () => {
  await svc?.close();
});

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

async function waitSettled(id: string): Promise<Record<string, unknown>> {
  return waitFor(`work item ${id} to settle`, async () => {
    const item = (await (await svc.api(`/v1/work/${id}`)).json()) as Record<string, unknown>;
    return ['completed', 'dead', 'cancelled'].includes(item.state as string) ? item : undefined;
  });
}

describe('probes and documents', () => {
  it('healthz and readyz answer without a token', async () => {
    const h = await svc.api('/healthz', { auth: false });
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok' });
    const r = await svc.api('/readyz', { auth: false });
    expect(r.status).toBe(200);
  });

  it('serves the OpenAPI document with the API routes and bearer security', async () => {
    const res = await svc.api('/openapi.json', { auth: false });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: unknown;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/work',
        '/v1/work/{id}',
        '/v1/work/{id}/retry',
        '/v1/memories',
        '/v1/memories/search',
      ]),
    );
    expect(JSON.stringify(doc.components)).toContain('bearer');
  });

  it('unknown routes are 404 with a JSON error', async () => {
    const res = await svc.api('/v2/nothing');
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error.message).toContain('/v2/nothing');
  });
});

describe('auth', () => {
  it('missing token: 401 with WWW-Authenticate', async () => {
    const res = await svc.api('/v1/work', { auth: false });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    expect(((await res.json()) as ErrorBody).error.message).toContain('missing');
  });

  it('wrong token, a token of another length, and a non-bearer scheme: 401', async () => {
    for (const header of [`Bearer ${TEST_TOKEN.slice(0, -1)}x`, 'Bearer short', `Basic ${TEST_TOKEN}`]) {
      const res = await svc.api('/v1/work', { headers: { authorization: header } });
      expect(res.status, header).toBe(401);
    }
  });

  it('right token: 200; /metrics needs it too', async () => {
    expect((await svc.api('/v1/work')).status).toBe(200);
    expect((await svc.api('/metrics', { auth: false })).status).toBe(401);
    expect((await svc.api('/metrics')).status).toBe(200);
  });

  it('refuses to listen beyond loopback without a token, before opening anything', async () => {
    // The configuration already refuses it …
    expect(() => resolveConfig({ dataDir: '/nonexistent/never-created', http: { host: '0.0.0.0' } })).toThrow(
      ConfigError,
    );
    // … and the service checks again, whatever config object it is handed.
    const ok = resolveConfig({ dataDir: '/nonexistent/never-created' });
    const config = { ...ok, http: { ...ok.http, host: '0.0.0.0', apiToken: undefined } };
    const err = await startService({ config }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('ANIMUS_API_TOKEN');
    expect((err as ConfigError).message).toContain('0.0.0.0');
  });
});

describe('validation', () => {
  const cases: [string, string, unknown, string | undefined][] = [
    ['missing workType', '/v1/work', { source: 'test' }, 'workType'],
    ['unknown field', '/v1/work', { workType: 'x', source: 't', colour: 'red' }, 'colour'],
    ['bad queue name', '/v1/work', { workType: 'x', source: 't', queue: 'no-dashes' }, 'queue'],
    ['maxAttempts out of range', '/v1/work', { workType: 'x', source: 't', maxAttempts: 0 }, 'maxAttempts'],
    ['empty memories', '/v1/memories', { memories: [] }, 'memories'],
    ['memory without content', '/v1/memories', { memories: [{ memoryType: 'x' }] }, 'memories.0.content'],
    ['bad search mode', '/v1/memories/search', { query: 'x', mode: 'fuzzy' }, 'mode'],
    ['search limit too big', '/v1/memories/search', { query: 'x', limit: 1000 }, 'limit'],
  ];
  for (const [name, path, body, field] of cases) {
    it(`${name}: 400 naming ${field}`, async () => {
      const res = await svc.api(path, { json: body });
      expect(res.status).toBe(400);
      const err = (await res.json()) as ErrorBody;
      expect(err.error.code).toBe('VALIDATION_FAILED');
      expect(err.error.field).toBe(field);
      expect(err.error.message).toContain(field!);
    });
  }

  it('a malformed id in the path: 400 naming id', async () => {
    const res = await svc.api('/v1/work/not-a-uuid');
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.field).toBe('id');
  });

  it('an unknown id: 404', async () => {
    const res = await svc.api('/v1/work/00000000-0000-4000-8000-000000000000');
    expect(res.status).toBe(404);
  });

  it('a body over the limit: 413 naming the setting', async () => {
    const res = await svc.api('/v1/work', {
      json: { workType: 'x', source: 't', params: { blob: 'x'.repeat(300 * 1024) } },
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.message).toContain('ANIMUS_HTTP_BODY_LIMIT');
  });

  it('invalid JSON: 400', async () => {
    const res = await svc.api('/v1/work', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"workType": ',
    });
    expect(res.status).toBe(400);
  });

  it('nothing was written by the rejected requests', async () => {
    const res = await svc.api('/v1/work?workType=x');
    expect(((await res.json()) as { items: unknown[] }).items).toEqual([]);
  });
});

describe('submit → processed → searchable', () => {
  const text = [
    '# Greenhouse notes',
    'The tomato seedlings on the east bench need watering every morning before nine.',
    'The irrigation pump in the greenhouse is serviced each spring; its filter clogs with algae.',
    '## Pests',
    'Whitefly appeared on the cucumbers in July and was controlled with yellow sticky traps.',
  ].join('\n\n');

  let itemId: string;

  it('POST /v1/work queues a memory.ingest item (202)', async () => {
    const res = await svc.api('/v1/work', {
      json: {
        workType: 'memory.ingest',
        source: 'http-test',
        triggerInfo: { test: 'e2e' },
        params: {
          source: 'doc:greenhouse',
          document: { text, title: 'Greenhouse notes' },
          maxChunkChars: 120,
        },
      },
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { status: string; id: string; msgId: string };
    expect(body.status).toBe('queued');
    expect(typeof body.msgId).toBe('string');
    itemId = body.id;
  });

  it('a worker processes it', async () => {
    const item = await waitSettled(itemId);
    expect(item.state).toBe('completed');
    expect(item.outcomeData).toMatchObject({ status: 'stored', source: 'doc:greenhouse', chunks: 3 });
    expect(item.triggerInfo).toEqual({ test: 'e2e' });
  });

  it('its chunks are searchable in every mode, with provenance', async () => {
    for (const mode of ['vector', 'text', 'hybrid']) {
      const res = await svc.api('/v1/memories/search', {
        json: { query: 'irrigation pump filter', mode, limit: 3, filters: { source: 'doc:greenhouse' } },
      });
      expect(res.status, mode).toBe(200);
      const body = (await res.json()) as {
        mode: string;
        tookMs: number;
        hits: { memory: { content: string; metadata: Record<string, unknown> } }[];
      };
      expect(body.mode).toBe(mode);
      expect(body.hits.length).toBeGreaterThan(0);
      const top = body.hits[0]!.memory;
      expect(top.content).toContain('irrigation pump');
      expect(top.metadata).toMatchObject({ workItemId: itemId, title: 'Greenhouse notes', chunkCount: 3 });
      expect(JSON.stringify(body)).not.toContain('"embedding"');
    }
  });

  it('re-ingesting the same source and text is a no-op; a changed text replaces it', async () => {
    const again = await svc.api('/v1/work', {
      json: {
        workType: 'memory.ingest',
        source: 'http-test',
        params: {
          source: 'doc:greenhouse',
          document: { text, title: 'Greenhouse notes' },
          maxChunkChars: 120,
        },
      },
    });
    const same = await waitSettled(((await again.json()) as { id: string }).id);
    expect(same.outcomeData).toMatchObject({ status: 'unchanged', chunks: 3 });

    const changed = await svc.api('/v1/work', {
      json: {
        workType: 'memory.ingest',
        source: 'http-test',
        params: { source: 'doc:greenhouse', text: 'The greenhouse was demolished in autumn.' },
      },
    });
    const replaced = await waitSettled(((await changed.json()) as { id: string }).id);
    expect(replaced.outcomeData).toMatchObject({ status: 'stored', chunks: 1, removedStale: 3 });
    const res = await svc.api('/v1/memories/search', {
      json: { query: 'irrigation pump', mode: 'text', filters: { source: 'doc:greenhouse' } },
    });
    const hits = ((await res.json()) as { hits: unknown[] }).hits;
    expect(hits).toEqual([]);
  });

  it('two ingests of one source at once leave exactly one version', async () => {
    const versions = ['alpha', 'beta'].map((w) =>
      Array.from({ length: 4 }, (_, i) => `Paragraph ${i} of version ${w} about the orchard ladder.`).join(
        '\n\n',
      ),
    );
    const ids = await Promise.all(
      versions.map(async (text) => {
        const res = await svc.api('/v1/work', {
          json: {
            workType: 'memory.ingest',
            source: 'race-test',
            params: { source: 'doc:race', text, maxChunkChars: 64 },
          },
        });
        return ((await res.json()) as { id: string }).id;
      }),
    );
    for (const id of ids) expect((await waitSettled(id)).state).toBe('completed');
    const res = await svc.api('/v1/memories/search', {
      json: { query: 'orchard ladder', mode: 'text', limit: 100, filters: { source: 'doc:race' } },
    });
    const hits = (
      (await res.json()) as { hits: { memory: { metadata: { documentHash: string; chunkCount: number } } }[] }
    ).hits;
    const hashes = new Set(hits.map((h) => h.memory.metadata.documentHash));
    expect(hashes.size).toBe(1);
    expect(hits).toHaveLength(hits[0]!.memory.metadata.chunkCount);
  });

  it('GET /v1/work lists items with filters', async () => {
    const res = await svc.api('/v1/work?workType=memory.ingest&state=completed&limit=10');
    const { items } = (await res.json()) as { items: { workType: string; state: string }[] };
    expect(items.length).toBe(5);
    expect(items.every((i) => i.workType === 'memory.ingest' && i.state === 'completed')).toBe(true);
  });

  it('POST /v1/memories stores at once, idempotently', async () => {
    const body = { memories: [{ content: 'The lab cat is called Bobbin.', source: 'http-test' }] };
    const first = await svc.api('/v1/memories', { json: body });
    expect(first.status).toBe(201);
    const a = (await first.json()) as { memories: { id: string; created: boolean }[] };
    expect(a.memories[0]!.created).toBe(true);
    const b = (await (await svc.api('/v1/memories', { json: body })).json()) as typeof a;
    expect(b.memories[0]).toEqual({ id: a.memories[0]!.id, created: false });
  });

  it('bad ingest params fail the item for good (dead) with the field named; retry sends it back', async () => {
    const res = await svc.api('/v1/work', {
      json: { workType: 'memory.ingest', source: 'http-test', params: { text: 'no source' } },
    });
    const { id } = (await res.json()) as { id: string };
    const dead = await waitSettled(id);
    expect(dead.state).toBe('dead');
    expect(dead.outcomeError).toContain('params.source');
    const retry = await svc.api(`/v1/work/${id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as { id: string }).id).toBe(id);
    expect((await waitSettled(id)).state).toBe('dead');
    // A completed item cannot be retried: 409.
    const done = await svc.api('/v1/work?state=completed&limit=1');
    const completedId = ((await done.json()) as { items: { id: string }[] }).items[0]!.id;
    expect((await svc.api(`/v1/work/${completedId}/retry`, { method: 'POST' })).status).toBe(409);
  });

  it('/metrics shows the work and GenAI metrics the dashboard uses', async () => {
    const text = await (await svc.api('/metrics')).text();
    for (const name of [
      'animus_work_transitions_total',
      'animus_work_duration_bucket',
      'gen_ai_client_operation_duration_bucket',
      'animus_queue_length',
    ]) {
      expect(text, name).toContain(name);
    }
    expect(text).toMatch(/animus_work_transitions_total\{[^}]*animus_work_state_to="completed"/);
    // One series per queue: the gauges are registered once (by the client), not twice.
    expect(text.match(/^animus_queue_length\{[^}]*messaging_destination_name="work"[^}]*\}/gm)).toHaveLength(
      1,
    );
  });
});

describe('cancel', () => {
  it('cancels a queued item (200); cancelling again is not allowed (409)', async () => {
    const res = await svc.api('/v1/work', {
      json: { workType: 'never.run', source: 'http-test', delaySeconds: 3600 },
    });
    const { id } = (await res.json()) as { id: string };
    const cancelled = await svc.api(`/v1/work/${id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toEqual({ id, state: 'cancelled' });
    const item = (await (await svc.api(`/v1/work/${id}`)).json()) as { state: string };
    expect(item.state).toBe('cancelled');
    const again = await svc.api(`/v1/work/${id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as ErrorBody).error.code).toBe('ILLEGAL_TRANSITION');
  });
});
