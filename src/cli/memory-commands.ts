// `animus memory add|import|search|reembed`. `import` turns files into `memory.ingest` work
// items (one per file, the file's path as source and dedup key); with `--wait` it also runs
// a worker here until they are done, with a progress bar on a terminal.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import type { Animus } from '../client.js';
import { planReembed, startReembed } from '../memory/index.js';
import { ValidationError } from '../errors/index.js';
import { builtInHandlers } from '../service/handlers.js';
import { INGEST_WORK_TYPE, type IngestParams } from '../service/ingest.js';
import { runSearch, type SearchMode } from '../service/service-client.js';
import { ExitCode } from './exit-codes.js';
import { processUntilSettled } from './process-items.js';
import { startProgress } from './progress.js';
import type { CommandContext } from './program.js';
import { wholeNumber } from './program.js';
import { jsonOption } from './work-commands.js';

const DOCUMENT_EXTENSIONS = new Set(['.md', '.markdown', '.txt', '.text']);

/** The importable files under `path` (a file, or a directory walked recursively), sorted. */
export async function findDocuments(path: string): Promise<string[]> {
  const root = resolve(path);
  const info = await stat(root);
  if (info.isFile()) return [root];
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && DOCUMENT_EXTENSIONS.has(extname(entry.name).toLowerCase())) out.push(full);
    }
  };
  await walk(root);
  return out.sort();
}

/** Title of a document: its first Markdown heading, else the file name. */
export function documentTitle(text: string, file: string): string {
  const heading = /^#\s+(.+)$/m.exec(text);
  return heading?.[1]?.trim() ?? basename(file, extname(file));
}

/** Submits one `memory.ingest` item per file; returns the ids to wait for. */
export async function submitDocuments(
  animus: Animus,
  files: string[],
  options: { queue: string; memoryType?: string; maxChunkChars?: number; submitter: string },
): Promise<{ ids: string[]; merged: number }> {
  const ids: string[] = [];
  let merged = 0;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const source = `file://${file}`;
    const params: IngestParams = {
      source,
      document: {
        text,
        title: documentTitle(text, file),
        format: extname(file).toLowerCase().startsWith('.t') ? 'text' : 'markdown',
      },
      ...(options.memoryType === undefined ? {} : { memoryType: options.memoryType }),
      ...(options.maxChunkChars === undefined ? {} : { maxChunkChars: options.maxChunkChars }),
    };
    const result = await animus.work.submit({
      queue: options.queue,
      workType: INGEST_WORK_TYPE,
      source: options.submitter,
      dedupKey: source,
      params: params as unknown as NonNullable<Parameters<Animus['work']['submit']>[0]['params']>,
    });
    if (result.status === 'queued') ids.push(result.id);
    else {
      merged++;
      ids.push(result.mergedInto);
    }
  }
  return { ids: [...new Set(ids)], merged };
}

/** Adds the `memory` command group. */
export function registerMemoryCommands(program: Command, ctx: CommandContext): void {
  const memory = program.command('memory').description('store, import and search memories');

  memory
    .command('add')
    .description('store one memory now (embedded synchronously)')
    .argument('<content...>', 'the text (words are joined with spaces)')
    .option('-t, --type <memoryType>', 'memory type', 'semantic')
    .option('-s, --source <source>', 'where it came from')
    .option('-m, --metadata <json>', 'metadata as a JSON object', jsonOption('--metadata'))
    .action(async (words: string[], opts: { type: string; source?: string; metadata?: unknown }) => {
      if (
        opts.metadata !== undefined &&
        (typeof opts.metadata !== 'object' || opts.metadata === null || Array.isArray(opts.metadata))
      ) {
        throw new ValidationError('--metadata', 'must be a JSON object');
      }
      const [stored] = await ctx.withClient((a) =>
        a.memory.store([
          {
            content: words.join(' '),
            memoryType: opts.type,
            ...(opts.source === undefined ? {} : { source: opts.source }),
            ...(opts.metadata === undefined ? {} : { metadata: opts.metadata as Record<string, unknown> }),
          },
        ]),
      );
      ctx.out().result(stored, () => `${stored!.created ? 'stored' : 'already stored'} ${stored!.id}`);
    });

  memory
    .command('import')
    .description('ingest a file or a directory of .md/.txt files through the queue (memory.ingest)')
    .argument('<path>', 'file or directory')
    .option('-t, --type <memoryType>', 'memory type of the chunks (default: document)')
    .option('-q, --queue <name>', 'queue to submit to (default: the first configured queue)')
    .option(
      '--max-chunk-chars <n>',
      'largest chunk in characters',
      wholeNumber('--max-chunk-chars', 64, 20_000),
    )
    .option(
      '-w, --wait',
      'process the items in this process and wait for them (needed on the embedded database unless `animus serve` runs)',
    )
    .action(
      async (
        path: string,
        opts: { type?: string; queue?: string; maxChunkChars?: number; wait?: boolean },
      ) => {
        const out = ctx.out();
        const files = await findDocuments(path);
        if (files.length === 0) {
          throw new ValidationError('path', `no .md or .txt files under ${resolve(path)}`);
        }
        const config = ctx.config();
        const queue = opts.queue ?? config.work.queues[0] ?? 'work';
        await ctx.withClient(async (animus) => {
          const { ids, merged } = await submitDocuments(animus, files, {
            queue,
            submitter: 'cli:memory-import',
            ...(opts.type === undefined ? {} : { memoryType: opts.type }),
            ...(opts.maxChunkChars === undefined ? {} : { maxChunkChars: opts.maxChunkChars }),
          });
          if (opts.wait !== true) {
            out.result({ files: files.length, items: ids, merged }, () => [
              `submitted ${files.length} file(s) as ${ids.length} memory.ingest item(s) on queue ${queue}${merged > 0 ? ` (${merged} merged into active items)` : ''}`,
              'run `animus serve` (or add --wait) to process them',
            ]);
            return;
          }
          const progress = startProgress(out, 'import', ids.length);
          const states = await processUntilSettled(animus, {
            queue,
            handlers: builtInHandlers(animus),
            ids,
            onSettled: (n) => progress.update(n),
          }).finally(() => progress.stop());
          const failed = [...states.entries()].filter(([, s]) => s !== 'completed');
          out.result(
            { files: files.length, items: Object.fromEntries(states), failed: failed.length },
            () => [
              `ingested ${ids.length - failed.length}/${ids.length} document(s) from ${files.length} file(s)`,
              ...failed.map(([id, s]) => `  ${id}: ${s} (animus work get ${id})`),
            ],
          );
          if (failed.length > 0) ctx.setExitCode(ExitCode.failure);
        });
      },
    );

  memory
    .command('search')
    .description('search memories by meaning (vector), keywords (text) or both (hybrid)')
    .argument('<query...>', 'what to look for')
    .addOption(
      new Option('--mode <mode>', 'search mode').choices(['vector', 'text', 'hybrid']).default('hybrid'),
    )
    .option('-n, --limit <n>', 'hits to return', wholeNumber('--limit', 1, 100), 5)
    .option('-t, --type <memoryType>', 'only this memory type')
    .option('-s, --source <source>', 'only memories from this source')
    .action(
      async (words: string[], opts: { mode: SearchMode; limit: number; type?: string; source?: string }) => {
        const query = words.join(' ');
        const filters = {
          ...(opts.type === undefined ? {} : { memoryType: opts.type }),
          ...(opts.source === undefined ? {} : { source: opts.source }),
        };
        const { hits, tookMs } = await ctx.withClient(async (animus) => {
          const started = performance.now();
          const hits = await runSearch(animus, { query, mode: opts.mode, limit: opts.limit, filters });
          return { hits, tookMs: Math.round((performance.now() - started) * 10) / 10 };
        });
        ctx
          .out()
          .result({ query, mode: opts.mode, tookMs, hits }, () =>
            formatHits(hits, `${opts.mode} search "${query}" (${tookMs} ms)`),
          );
      },
    );

  memory
    .command('reembed')
    .description('re-embed every memory with the configured model (a resumable memory.reembed work item)')
    .option('-q, --queue <name>', 'queue to submit to (default: the first configured queue)')
    .option('--batch-size <n>', 'memories embedded per batch', wholeNumber('--batch-size', 1, 10_000), 256)
    .option('--dry-run', 'show what would be re-embedded; change nothing')
    .option('-w, --wait', 'process the item in this process and wait for it (progress bar)')
    .action(async (opts: { queue?: string; batchSize: number; dryRun?: boolean; wait?: boolean }) => {
      const out = ctx.out();
      const config = ctx.config();
      const queue = opts.queue ?? config.work.queues[0] ?? 'work';
      const target = { dimensions: config.embedding.dimensions, model: config.embedding.model };
      // The database may store another dimension than configured: that is what reembed is for.
      await ctx.withClient(
        async (animus) => {
          const plan = await planReembed(animus.pool, target);
          const describe = `${plan.total} memories from ${plan.storedDimensions} to ${target.dimensions} dimensions (${target.model})${plan.resuming ? `, resuming at ${plan.done}` : ''}`;
          if (opts.dryRun === true) {
            out.result({ plan }, () => `would re-embed ${describe}`);
            return;
          }
          const submission = await startReembed(animus.pool, target, { batchSize: opts.batchSize });
          const result = await animus.work.submit({
            queue,
            source: 'cli:memory-reembed',
            workType: submission.workType,
            dedupKey: submission.dedupKey,
            params: { ...submission.params },
          });
          const id = result.status === 'queued' ? result.id : result.mergedInto;
          // While the dimension differs, nothing else (the service included) can start on this
          // database, so the move to the new dimension runs here.
          const wait = opts.wait === true || plan.storedDimensions !== target.dimensions;
          if (!wait) {
            out.result({ plan, ...result }, () =>
              result.status === 'queued'
                ? `queued memory.reembed ${id}: ${describe}`
                : `a re-embedding is already queued (${id}); this request merged into it`,
            );
            return;
          }
          const progress = startProgress(out, 'reembed', Math.max(plan.total, 1));
          const states = await processUntilSettled(animus, {
            queue,
            handlers: builtInHandlers(animus),
            ids: [id],
            onTick: async () => {
              const now = await planReembed(animus.pool, target);
              progress.update(now.done);
            },
          }).finally(() => progress.stop());
          const state = states.get(id);
          out.result({ id, state, plan }, () => `memory.reembed ${id}: ${state ?? 'unknown'}`);
          if (state !== 'completed') ctx.setExitCode(ExitCode.failure);
        },
        { allowDimensionChange: true },
      );
    });
}

/** Human lines for search hits (any of the three hit shapes). */
export function formatHits(hits: unknown[], heading: string): string[] {
  const lines = [heading];
  if (hits.length === 0) lines.push('  (no hits)');
  hits.forEach((hit, i) => {
    const h = hit as {
      score: number;
      memory: { content: string; source: string | null; metadata: Record<string, unknown> };
    };
    const meta = h.memory.metadata;
    // A chunk's section already starts with its document's title.
    const where =
      (meta.section as string | undefined) ?? (meta.title as string | undefined) ?? h.memory.source ?? '';
    const text = h.memory.content.replace(/\s+/g, ' ');
    lines.push(
      `  ${i + 1}. [${h.score.toFixed(3)}] ${text.length > 110 ? `${text.slice(0, 107)}...` : text}`,
    );
    if (where !== '') lines.push(`       — ${where}`);
  });
  return lines;
}
