// `animus work submit|get|list|retry|cancel|stats`: the work-item API from the shell. JSON
// arguments (`--params`, `--trigger`) are parsed here and rejected with the option's name;
// everything else is validated by the work module before anything is written.
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { SubmitItem, WorkFilter, WorkItem, WorkState } from '../work/types.js';
import type { QueueStats } from '../work/work-items.js';
import type { CommandContext } from './program.js';
import { wholeNumber } from './program.js';

const STATES: WorkState[] = ['queued', 'running', 'completed', 'dead', 'cancelled', 'merged'];

/** Parses a JSON option value, naming the option when it is not JSON. */
export function jsonOption(name: string) {
  return (raw: string): unknown => {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new InvalidArgumentError(
        `${name}: not valid JSON (example: ${name} '{"url":"https://example.org"}')`,
      );
    }
  };
}

function itemLine(item: WorkItem): string {
  const when = item.createdAt.toISOString().replace('T', ' ').slice(0, 19);
  return `${item.id}  ${item.state.padEnd(9)}  ${item.workType.padEnd(16)}  ${item.queue.padEnd(8)}  attempts ${item.attempts}/${item.maxAttempts}  ${when}`;
}

function itemDetail(item: WorkItem): string[] {
  const lines = [
    `id:           ${item.id}`,
    `state:        ${item.state}${item.mergedInto ? ` (into ${item.mergedInto})` : ''}`,
    `work type:    ${item.workType}`,
    `queue:        ${item.queue}`,
    `source:       ${item.source}`,
    `dedup key:    ${item.dedupKey ?? '-'}`,
    `attempts:     ${item.attempts}/${item.maxAttempts}`,
    `created:      ${item.createdAt.toISOString()}`,
    `resolved:     ${item.resolvedAt?.toISOString() ?? '-'}`,
    `params:       ${JSON.stringify(item.params)}`,
  ];
  if (item.triggerInfo !== null) lines.push(`trigger:      ${JSON.stringify(item.triggerInfo)}`);
  if (item.outcomeData !== null) lines.push(`outcome:      ${JSON.stringify(item.outcomeData)}`);
  if (item.outcomeError !== null) lines.push(`error:        ${item.outcomeError.split('\n')[0]}`);
  if (item.outcomeMs !== null) lines.push(`took:         ${item.outcomeMs} ms`);
  return lines;
}

/** Adds the `work` command group. */
export function registerWorkCommands(program: Command, ctx: CommandContext): void {
  const work = program.command('work').description('submit and inspect work items');

  work
    .command('submit')
    .description('submit a work item (merged into an active one with the same type and dedup key)')
    .requiredOption('-t, --type <workType>', 'kind of work; selects the handler (e.g. memory.ingest)')
    .requiredOption('-s, --source <source>', 'where the work comes from (provenance)')
    .option('-p, --params <json>', 'handler input as JSON', jsonOption('--params'))
    .option('--trigger <json>', 'details of the trigger as JSON (provenance)', jsonOption('--trigger'))
    .option('-k, --dedup-key <key>', 'structural dedup key')
    .option('-q, --queue <name>', 'queue (default: work)')
    .option('--max-attempts <n>', 'attempts before the item is dead', wholeNumber('--max-attempts', 1, 100))
    .option(
      '--delay <seconds>',
      'seconds before the item becomes visible',
      wholeNumber('--delay', 0, 31_536_000),
    )
    .option('--priority <n>', 'priority (stored)', wholeNumber('--priority', 0, 1000))
    .action(
      async (opts: {
        type: string;
        source: string;
        params?: unknown;
        trigger?: unknown;
        dedupKey?: string;
        queue?: string;
        maxAttempts?: number;
        delay?: number;
        priority?: number;
      }) => {
        const item: SubmitItem = { workType: opts.type, source: opts.source };
        if (opts.params !== undefined) item.params = opts.params as SubmitItem['params'];
        if (opts.trigger !== undefined) item.triggerInfo = opts.trigger as SubmitItem['triggerInfo'];
        if (opts.dedupKey !== undefined) item.dedupKey = opts.dedupKey;
        if (opts.queue !== undefined) item.queue = opts.queue;
        if (opts.maxAttempts !== undefined) item.maxAttempts = opts.maxAttempts;
        if (opts.delay !== undefined) item.delay = opts.delay;
        if (opts.priority !== undefined) item.priority = opts.priority;
        const result = await ctx.withClient((a) => a.work.submit(item));
        ctx
          .out()
          .result(result, () =>
            result.status === 'queued'
              ? `queued ${result.id}`
              : `merged ${result.id} into ${result.mergedInto}`,
          );
      },
    );

  work
    .command('get')
    .description('show one work item')
    .argument('<id>', 'work item id (uuid)')
    .action(async (id: string) => {
      const item = await ctx.withClient((a) => a.work.get(id));
      ctx.out().result(item, () => itemDetail(item));
    });

  work
    .command('list')
    .description('list work items, newest first')
    .addOption(new Option('--state <state>', 'only items in this state').choices(STATES))
    .option('-t, --type <workType>', 'only this work type')
    .option('-q, --queue <name>', 'only this queue')
    .option('-s, --source <source>', 'only items from this source')
    .option('-n, --limit <n>', 'at most this many', wholeNumber('--limit', 1, 1000), 50)
    .action(
      async (opts: { state?: WorkState; type?: string; queue?: string; source?: string; limit: number }) => {
        const filter: WorkFilter = { limit: opts.limit };
        if (opts.state !== undefined) filter.state = opts.state;
        if (opts.type !== undefined) filter.workType = opts.type;
        if (opts.queue !== undefined) filter.queue = opts.queue;
        if (opts.source !== undefined) filter.source = opts.source;
        const items = await ctx.withClient((a) => a.work.list(filter));
        ctx.out().result({ items }, () => (items.length === 0 ? ['(no work items)'] : items.map(itemLine)));
      },
    );

  work
    .command('retry')
    .description('send a dead or cancelled item back to its queue')
    .argument('<id>', 'work item id (uuid)')
    .action(async (id: string) => {
      const result = await ctx.withClient((a) => a.work.retry(id));
      ctx.out().result(result, () => `requeued ${result.id}`);
    });

  work
    .command('cancel')
    .description('cancel a queued item')
    .argument('<id>', 'work item id (uuid)')
    .action(async (id: string) => {
      await ctx.withClient((a) => a.work.cancel(id));
      ctx.out().result({ id, state: 'cancelled' }, () => `cancelled ${id}`);
    });

  work
    .command('stats')
    .description('per-queue counts by state, queue length and oldest message age')
    .action(async () => {
      const stats: QueueStats[] = await ctx.withClient((a) => a.work.stats());
      ctx.out().result({ queues: stats }, () =>
        stats.length === 0
          ? ['(no queues)']
          : stats.map((s) => {
              const states = Object.entries(s.states)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ');
              const age =
                s.oldestMessageAgeSeconds === null ? '-' : `${Math.round(s.oldestMessageAgeSeconds)} s`;
              return `${s.queue}: length ${s.queueLength} (visible ${s.visibleLength}), oldest ${age}; ${states || 'no items'}`;
            }),
      );
    });
}
