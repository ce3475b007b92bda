// `animus demo`: the whole path on the embedded database with no network — the bundled
// corpus goes through the queue as `memory.ingest` items, a worker chunks and embeds it with
// the offline model, then vector, keyword and hybrid searches run and the telemetry recorded
// along the way is printed. It uses a fresh directory and removes it unless `--keep`.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Animus } from '../client.js';
import { AnimusError } from '../errors/index.js';
import { resolveConfig } from '../config/index.js';
import { builtInHandlers } from '../service/handlers.js';
import { INGEST_WORK_TYPE, type IngestParams, planIngest } from '../service/ingest.js';
import { runSearch, type SearchMode } from '../service/service-client.js';
import { formatTelemetry, installDemoTelemetry } from './demo-telemetry.js';
import { ExitCode } from './exit-codes.js';
import { formatHits, documentTitle } from './memory-commands.js';
import { processUntilSettled } from './process-items.js';
import { startProgress } from './progress.js';
import type { CommandContext } from './program.js';

/** Where the sample corpus ships: `<package root>/assets/demo-corpus`. */
export function demoCorpusDir(): string {
  // src/cli and dist/cli both sit two levels below the package root.
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'demo-corpus');
}

/** The searches the demo runs, in each mode. */
export const DEMO_QUERIES: readonly string[] = [
  'what to do when a robot arm stops in the middle of a move',
  'battery charging rules for the mobile robots',
  'lidar calibration',
];
const MODES: readonly SearchMode[] = ['vector', 'text', 'hybrid'];

interface CorpusDocument {
  file: string;
  params: IngestParams;
  chunks: number;
}

async function loadCorpus(dir: string): Promise<CorpusDocument[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.md')).sort();
  const docs: CorpusDocument[] = [];
  for (const f of files) {
    const text = await readFile(join(dir, f), 'utf8');
    const params: IngestParams = {
      source: `demo-corpus/${f}`,
      document: { text, title: documentTitle(text, f), format: 'markdown' },
      metadata: { corpus: 'demo' },
    };
    docs.push({ file: f, params, chunks: planIngest(params).chunks.length });
  }
  return docs;
}

/** Runs the demo; resolves to the exit code. */
export async function runDemo(ctx: CommandContext, options: { keep: boolean }): Promise<number> {
  const out = ctx.out();
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const base = ctx.env.ANIMUS_DATA_DIR;
  const dataDir =
    base === undefined || base.trim() === ''
      ? await mkdtemp(join(tmpdir(), 'animus-demo-'))
      : join(resolve(base), 'demo');
  if (base !== undefined && base.trim() !== '') await rm(dataDir, { recursive: true, force: true });
  // Always the embedded default, whatever DATABASE_URL says: the demo must not touch a real database.
  const config = resolveConfig({ dataDir, work: { queues: ['demo'], concurrency: 2 }, logLevel: 'warn' });
  const telemetry = installDemoTelemetry();
  const animus = new Animus({ config });
  const abort = new AbortController();
  const onSigint = () => abort.abort(new AnimusError('CLOSED', 'interrupted'));
  process.once('SIGINT', onSigint);
  try {
    out.line(`animus demo — embedded Postgres in ${dataDir}`);
    const docs = await loadCorpus(demoCorpusDir());
    const totalChunks = docs.reduce((n, d) => n + d.chunks, 0);
    await animus.start();
    out.line(`database ready (${elapsed()}); corpus: ${docs.length} documents, ${totalChunks} chunks`);

    const ids: string[] = [];
    for (const d of docs) {
      const r = await animus.work.submit({
        queue: 'demo',
        workType: INGEST_WORK_TYPE,
        source: 'animus demo',
        dedupKey: d.params.source,
        params: d.params as unknown as NonNullable<Parameters<Animus['work']['submit']>[0]['params']>,
      });
      ids.push(r.status === 'queued' ? r.id : r.mergedInto);
    }
    out.line(`submitted ${ids.length} memory.ingest items to queue 'demo' (${elapsed()})`);

    const stored = new Map<string, number>();
    const progress = startProgress(out, 'ingest', totalChunks);
    const handlers = builtInHandlers(animus, {
      onIngestProgress: (e) => {
        stored.set(e.source, e.stored);
        progress.update([...stored.values()].reduce((a, b) => a + b, 0));
      },
    });
    const states = await processUntilSettled(animus, {
      queue: 'demo',
      handlers,
      ids,
      signal: abort.signal,
    }).finally(() => progress.stop());
    const failed = [...states.values()].filter((s) => s !== 'completed').length;
    const memories = await animus.memory.count();
    out.line(
      `processed ${states.size - failed}/${ids.length} items, ${memories} memories stored (${elapsed()})`,
    );

    const searches: unknown[] = [];
    for (const query of DEMO_QUERIES) {
      out.line();
      for (const mode of MODES) {
        const t0 = performance.now();
        const hits = await runSearch(animus, { query, mode, limit: 3 });
        const ms = Math.round((performance.now() - t0) * 10) / 10;
        searches.push({ query, mode, ms, hits });
        for (const l of formatHits(hits, `${mode} "${query}" — ${hits.length} hits in ${ms} ms`)) out.line(l);
      }
    }

    const summary = await telemetry.summary();
    out.line();
    for (const l of formatTelemetry(summary)) out.line(l);
    out.line();
    out.line(`demo finished in ${elapsed()}${options.keep ? `; data kept in ${dataDir}` : ''}`);
    if (out.json) {
      out.result({
        dataDir,
        documents: docs.length,
        chunks: totalChunks,
        memories,
        failed,
        searches,
        telemetry: summary,
        seconds: (performance.now() - started) / 1000,
      });
    }
    return failed === 0 ? ExitCode.ok : ExitCode.failure;
  } catch (err) {
    if (abort.signal.aborted) {
      out.note('animus demo: interrupted');
      return ExitCode.interrupted;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    await animus.close();
    await telemetry.shutdown();
    if (!options.keep) await rm(dataDir, { recursive: true, force: true });
  }
}
