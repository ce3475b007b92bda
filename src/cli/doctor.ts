// `animus doctor`: checks what the service needs, one line each, without changing anything —
// database reachable, Postgres/pgvector versions, which pgmq, migrations, embedding dimension,
// LLM endpoint, OTLP endpoint. Any `fail` makes the exit code 1; `warn` does not.
import type { AnimusConfig } from '../config/index.js';
import { openDatabase } from '../db/database.js';
import { checkHealth, type HealthReport } from '../db/health.js';

/** One check's verdict. */
export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

/** Options for {@link runDoctor}. */
export interface DoctorOptions {
  /** Timeout for each network probe in ms. Default 3000. */
  timeoutMs?: number;
}

async function probe(
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<{ status: number } | { error: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return { status: res.status };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { error: cause ?? (err as Error).name };
  }
}

function databaseChecks(config: AnimusConfig, kind: string, target: string, h: HealthReport): DoctorCheck[] {
  const checks: DoctorCheck[] = [
    { name: 'database', status: 'ok', detail: `${kind} at ${target}, round trip ${h.latencyMs ?? '?'} ms` },
    { name: 'postgres', status: 'ok', detail: h.serverVersion ?? 'unknown version' },
    h.pgvectorVersion === undefined
      ? {
          name: 'pgvector',
          status: 'warn',
          detail: 'not installed in this database yet (animus migrate installs it)',
        }
      : { name: 'pgvector', status: 'ok', detail: h.pgvectorVersion },
  ];
  const q = h.pgmq;
  checks.push(
    q.flavour === 'extension'
      ? { name: 'pgmq', status: 'ok', detail: `extension ${q.version ?? ''}`.trim() }
      : q.flavour === 'compat'
        ? {
            name: 'pgmq',
            status: 'ok',
            detail: `animus compatible schema${q.extensionAvailable ? ' (the server also offers the extension)' : ''}`,
          }
        : {
            name: 'pgmq',
            status: 'warn',
            detail: `not installed yet (animus migrate installs ${q.extensionAvailable ? 'the extension' : 'the compatible schema'})`,
          },
  );
  const m = h.migrations;
  const broken = m.edited + m.unknown;
  checks.push({
    name: 'migrations',
    status: broken > 0 ? 'fail' : m.pending > 0 ? 'warn' : 'ok',
    detail:
      broken > 0
        ? `${m.edited} edited and ${m.unknown} unknown applied migration(s): start-up will refuse this database`
        : m.pending > 0
          ? `${m.applied} applied, ${m.pending} pending (run: animus migrate)`
          : `${m.applied} applied, latest ${m.latest ?? 'none'}`,
  });
  const dims = h.embeddingDimensions;
  checks.push(
    dims === undefined
      ? {
          name: 'embedding dimension',
          status: 'warn',
          detail: `not recorded yet; will be ${config.embedding.dimensions}`,
        }
      : dims === config.embedding.dimensions
        ? {
            name: 'embedding dimension',
            status: 'ok',
            detail: `${dims} (${config.embedding.provider} model ${config.embedding.model})`,
          }
        : {
            name: 'embedding dimension',
            status: 'fail',
            detail: `database has ${dims}, configuration says ${config.embedding.dimensions} (${config.embedding.model}); re-embed into a new database or set EMBEDDING_DIMENSIONS=${dims}`,
          },
  );
  return checks;
}

async function llmCheck(config: AnimusConfig, timeoutMs: number): Promise<DoctorCheck> {
  const remote = config.embedding.provider === 'openai' || config.chatModel !== undefined;
  if (!remote) {
    return {
      name: 'llm endpoint',
      status: 'ok',
      detail: `none needed: bundled offline model ${config.embedding.model}`,
    };
  }
  const base = (config.openai.baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  if (config.openai.apiKey !== undefined) headers.authorization = `Bearer ${config.openai.apiKey.reveal()}`;
  const r = await probe(`${base}/models`, { headers }, timeoutMs);
  if ('error' in r)
    return { name: 'llm endpoint', status: 'fail', detail: `${base} unreachable (${r.error})` };
  if (r.status === 401 || r.status === 403) {
    return {
      name: 'llm endpoint',
      status: 'fail',
      detail: `${base} rejected the key (HTTP ${r.status}): check OPENAI_API_KEY`,
    };
  }
  return { name: 'llm endpoint', status: 'ok', detail: `${base} answered HTTP ${r.status}` };
}

async function otlpCheck(config: AnimusConfig, timeoutMs: number): Promise<DoctorCheck> {
  const endpoint = config.telemetry.otlpEndpoint;
  if (endpoint === undefined) {
    return {
      name: 'otlp endpoint',
      status: 'ok',
      detail: 'not configured (telemetry stays in-process; /metrics still works)',
    };
  }
  const url = `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  // An empty export request: a collector answers it (2xx or 4xx); silence means unreachable.
  const r = await probe(
    url,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceSpans":[]}' },
    timeoutMs,
  );
  if ('error' in r)
    return { name: 'otlp endpoint', status: 'fail', detail: `${url} unreachable (${r.error})` };
  return {
    name: 'otlp endpoint',
    status: r.status < 500 ? 'ok' : 'warn',
    detail: `${url} answered HTTP ${r.status}`,
  };
}

/** Runs every check. Never throws for a failed check; each becomes a `fail` line. */
export async function runDoctor(config: AnimusConfig, options: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const checks: DoctorCheck[] = [
    {
      name: 'config',
      status: 'ok',
      detail: `database ${config.databaseUrl === undefined ? `embedded in ${config.dataDir}` : 'server (DATABASE_URL)'}, queues ${config.work.queues.join(',')}`,
    },
  ];
  const network = Promise.all([llmCheck(config, timeoutMs), otlpCheck(config, timeoutMs)]);
  try {
    const db = await openDatabase(config, { migrate: false, skipSchemaCheck: true });
    try {
      checks.push(...databaseChecks(config, db.kind, db.target, await checkHealth(db.pool)));
    } finally {
      await db.close();
    }
  } catch (err) {
    checks.push({ name: 'database', status: 'fail', detail: (err as Error).message });
  }
  checks.push(...(await network));
  return checks;
}

/** Human lines for a doctor report. */
export function formatDoctor(checks: DoctorCheck[]): string[] {
  const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => `${mark[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`);
}
