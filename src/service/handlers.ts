// The work handlers every `animus serve` runs: `memory.ingest` (documents → chunked memories,
// see ingest.ts) and `memory.reembed` (the memory module's). User handlers from
// ANIMUS_HANDLERS_MODULE are added next to these and may not replace them.
import type { Animus } from '../client.js';
import { REEMBED_WORK_TYPE, reembedHandler } from '../memory/index.js';
import type { Json } from '../work/types.js';
import type { WorkHandler } from '../worker/worker.js';
import { createIngestHandler, INGEST_WORK_TYPE, type IngestDeps } from './ingest.js';

/** Options for {@link builtInHandlers}. */
export interface BuiltInHandlerOptions {
  /** Progress of ingestion (the demo's bar). */
  onIngestProgress?: IngestDeps['onProgress'];
}

/** The built-in handlers, bound to a started client. */
export function builtInHandlers(
  animus: Animus,
  options: BuiltInHandlerOptions = {},
): Record<string, WorkHandler> {
  const ingest = createIngestHandler({
    embed: (texts) => animus.memory.embedTexts(texts),
    store: (entries, options) => animus.memory.store(entries, options),
    transaction: (fn) => animus.transaction(fn),
    db: animus.pool,
    ...(options.onIngestProgress === undefined ? {} : { onProgress: options.onIngestProgress }),
  });
  const reembed = reembedHandler(animus.memory);
  return {
    [INGEST_WORK_TYPE]: async (item, ctx) => (await ingest(item, ctx)) as unknown as Json,
    [REEMBED_WORK_TYPE]: async (item, ctx) => (await reembed(item, ctx)) as unknown as Json,
  };
}
