// Child process for the cross-process trace test: connects to the database named in
// ANIMUS_TELEMETRY_DB_URL, runs a worker with the telemetry attempt hook until one item of
// ANIMUS_TELEMETRY_QUEUE has been handled and settled, then prints its finished spans as one
// JSON line on stdout. Its own in-memory SDK stands in for the second service's exporter.
import { SpanKind } from '@opentelemetry/api';
import { openPool } from '../../../src/db/pool.js';
import { createWorkTracing, traceWorkAttempts } from '../../../src/telemetry/index.js';
import { WorkItems } from '../../../src/work/work-items.js';
import { Worker } from '../../../src/worker/worker.js';
import { installTestOtel } from './otel.js';

const otel = installTestOtel();
const url = process.env.ANIMUS_TELEMETRY_DB_URL ?? '';
const queue = process.env.ANIMUS_TELEMETRY_QUEUE ?? 'work';

const handle = await openPool({ connectionString: url, max: 1, connectTimeoutMs: 10_000 });
const work = new WorkItems({ pool: handle.pool, tracing: createWorkTracing() });
let handled!: () => void;
const done = new Promise<void>((resolve) => (handled = resolve));
const worker = new Worker(
  { work, pool: handle.pool },
  {
    queue,
    concurrency: 1,
    pollIntervalMs: 50,
    attempt: traceWorkAttempts,
    handlers: {
      'telemetry.echo': async (item) => {
        handled();
        return { echoed: item.params };
      },
    },
  },
);
await worker.start();
await done;
await worker.stop(); // waits for the in-flight attempt to settle (complete + archive)
await handle.pool.end();
const spans = otel.spans.getFinishedSpans().map((s) => ({
  name: s.name,
  kind: SpanKind[s.kind],
  traceId: s.spanContext().traceId,
  spanId: s.spanContext().spanId,
  parentSpanId: s.parentSpanContext?.spanId,
  attributes: s.attributes,
  events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
  links: s.links.map((l) => l.context.spanId),
}));
process.stdout.write(`${JSON.stringify({ spans, stats: worker.stats })}\n`);
