// The built-in `memory.ingest` work handler: text or a document → chunks → embeddings →
// memories, with provenance (document hash, chunk position, section, the work item) in each
// memory's metadata. One source holds one version of its document: re-ingesting the same
// text is a no-op, a changed text replaces the source's memories in one transaction.
import { createHash } from 'node:crypto';
import { PermanentFailure, ValidationError } from '../errors/index.js';
import { type Chunk, chunkDocument, DEFAULT_CHUNK_CHARS, type DocumentFormat } from './chunking.js';
import type { Queryable } from '../memory/types.js';
import type { MemoryInput } from './service-client.js';
import { INGEST_DELETE_STALE, INGEST_LOCK_SOURCE, INGEST_SOURCE_STATE } from './sql.js';

/** Work type of the built-in ingest handler. */
export const INGEST_WORK_TYPE = 'memory.ingest';

/** `params` of a `memory.ingest` work item. */
export interface IngestParams {
  /** Identity of the document (a path, URL or name); one source holds one version. Required. */
  source: string;
  /** The text, when there is no `document`. */
  text?: string;
  /** A document: its text, and optionally a title and format. */
  document?: { text: string; title?: string; format?: DocumentFormat };
  /** Memory type of the stored chunks. Default `document`. */
  memoryType?: string;
  /** Extra metadata merged into every chunk's metadata. */
  metadata?: Record<string, unknown>;
  /** Largest chunk in characters. Default 1200. */
  maxChunkChars?: number;
}

/** What the handler returns (stored as the item's outcome). */
export interface IngestOutcome {
  status: 'stored' | 'unchanged';
  source: string;
  chunks: number;
  documentHash: string;
  removedStale: number;
}

/** Anything that runs a query: the pool, or the client of a transaction. */
export type IngestQueryable = Queryable;

/** What the ingest handler needs. */
export interface IngestDeps {
  /** Embeds texts with the configured model (the memory store's `embedTexts`). */
  embed(texts: string[]): Promise<number[][]>;
  /** Stores memories (with their embeddings) inside `tx`; idempotent on content, type and source. */
  store(entries: MemoryInput[], options: { tx: IngestQueryable }): Promise<unknown>;
  /** Runs `fn` in one transaction on one connection. */
  transaction<T>(fn: (tx: IngestQueryable) => Promise<T>): Promise<T>;
  /** The pool, for the no-op check before any embedding. */
  db: IngestQueryable;
  /** Chunks embedded per call (heartbeat and cancellation checks between). Default 32. */
  batchSize?: number;
  /** Called after each batch with the chunks embedded so far (the demo's progress bar). */
  onProgress?: (event: { source: string; stored: number; total: number }) => void;
}

/** The slice of a claimed work item the handler reads. */
export interface IngestItem {
  id: string;
  source: string;
  params: unknown;
}

/** The slice of the handler context the handler uses. */
export interface IngestContext {
  signal?: AbortSignal;
  heartbeat?: () => Promise<unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates `params` of a `memory.ingest` item; throws {@link ValidationError} naming the field. */
export function parseIngestParams(params: unknown): Required<Pick<IngestParams, 'source' | 'memoryType'>> & {
  text: string;
  title: string | undefined;
  format: DocumentFormat;
  metadata: Record<string, unknown>;
  maxChunkChars: number;
} {
  if (!isObject(params))
    throw new ValidationError('params', 'must be an object with source and text or document');
  const { source, text, document, memoryType, metadata, maxChunkChars } = params;
  if (typeof source !== 'string' || source.trim() === '') {
    throw new ValidationError('params.source', 'is required: a non-empty string naming the document');
  }
  if (source.length > 512)
    throw new ValidationError('params.source', 'is longer than 512 characters', { limit: 512 });
  let body: unknown = text;
  let title: unknown;
  let format: unknown = 'markdown';
  if (document !== undefined) {
    if (text !== undefined)
      throw new ValidationError('params.text', 'give either text or document, not both');
    if (!isObject(document))
      throw new ValidationError('params.document', 'must be an object with a text field');
    body = document.text;
    title = document.title;
    format = document.format ?? 'markdown';
    if (title !== undefined && typeof title !== 'string') {
      throw new ValidationError('params.document.title', 'must be a string');
    }
    if (format !== 'markdown' && format !== 'text') {
      throw new ValidationError(
        'params.document.format',
        `must be 'markdown' or 'text', got ${JSON.stringify(format)}`,
      );
    }
  }
  const textField = document === undefined ? 'params.text' : 'params.document.text';
  if (typeof body !== 'string' || body.trim() === '') {
    throw new ValidationError(textField, 'is required: non-empty text to ingest');
  }
  if (
    memoryType !== undefined &&
    (typeof memoryType !== 'string' || memoryType === '' || memoryType.length > 64)
  ) {
    throw new ValidationError('params.memoryType', 'must be a string of 1 to 64 characters', { limit: 64 });
  }
  if (metadata !== undefined && !isObject(metadata))
    throw new ValidationError('params.metadata', 'must be an object');
  if (maxChunkChars !== undefined && typeof maxChunkChars !== 'number') {
    throw new ValidationError('params.maxChunkChars', 'must be a number');
  }
  return {
    source,
    text: body,
    title: title as string | undefined,
    format: format as DocumentFormat,
    memoryType: (memoryType as string | undefined) ?? 'document',
    metadata: (metadata as Record<string, unknown> | undefined) ?? {},
    maxChunkChars: (maxChunkChars as number | undefined) ?? DEFAULT_CHUNK_CHARS,
  };
}

/** Splits and de-duplicates a document's chunks (identical chunks would share one row). */
export function planIngest(params: unknown): {
  parsed: ReturnType<typeof parseIngestParams>;
  chunks: Chunk[];
  documentHash: string;
} {
  const parsed = parseIngestParams(params);
  const all = chunkDocument(parsed.text, { format: parsed.format, maxChars: parsed.maxChunkChars });
  const seen = new Set<string>();
  const chunks = all.filter((c) => !seen.has(c.text) && seen.add(c.text) !== undefined);
  // The hash covers how the text was cut too: a new chunk size is a new version.
  const documentHash = createHash('sha256')
    .update(`${parsed.format}\n${parsed.maxChunkChars}\n${parsed.memoryType}\n`)
    .update(parsed.text)
    .digest('hex');
  return { parsed, chunks, documentHash };
}

/**
 * Makes the `memory.ingest` handler. Bad params fail the item for good
 * ({@link PermanentFailure}): retrying cannot fix them.
 */
export function createIngestHandler(deps: IngestDeps) {
  const batchSize = deps.batchSize ?? 32;
  return async (item: IngestItem, ctx: IngestContext = {}): Promise<IngestOutcome> => {
    let plan: ReturnType<typeof planIngest>;
    try {
      plan = planIngest(item.params);
    } catch (err) {
      if (err instanceof ValidationError) throw new PermanentFailure(err.message, { cause: err });
      throw err;
    }
    const { parsed, chunks, documentHash } = plan;
    const progress = (stored: number) =>
      deps.onProgress?.({ source: parsed.source, stored, total: chunks.length });
    const unchanged = (rows: Record<string, unknown>[]) =>
      rows.length === 1 &&
      rows[0]!.document_hash === documentHash &&
      Number(rows[0]!.chunks) === chunks.length;
    const outcome = (status: IngestOutcome['status'], removedStale: number): IngestOutcome => ({
      status,
      source: parsed.source,
      chunks: chunks.length,
      documentHash,
      removedStale,
    });
    if (unchanged((await deps.db.query(INGEST_SOURCE_STATE, [parsed.source, parsed.memoryType])).rows)) {
      progress(chunks.length);
      return outcome('unchanged', 0);
    }
    // Embedding is the slow part: do it outside any transaction, batch by batch, so the
    // item keeps its claim (heartbeat) and a stop request is honoured between batches.
    const vectors: number[][] = [];
    for (let i = 0; i < chunks.length; i += batchSize) {
      ctx.signal?.throwIfAborted();
      vectors.push(...(await deps.embed(chunks.slice(i, i + batchSize).map((c) => c.text))));
      await ctx.heartbeat?.();
      progress(Math.min(i + batchSize, chunks.length) - 1);
    }
    const ingestedAt = new Date().toISOString();
    const entries = chunks.map((chunk, i): MemoryInput => ({
      content: chunk.text,
      memoryType: parsed.memoryType,
      source: parsed.source,
      embedding: vectors[i]!,
      metadata: {
        ...parsed.metadata,
        documentHash,
        chunkIndex: chunk.index,
        chunkCount: chunks.length,
        charStart: chunk.start,
        charEnd: chunk.end,
        ...(parsed.title === undefined ? {} : { title: parsed.title }),
        ...(chunk.section === undefined ? {} : { section: chunk.section }),
        workItemId: item.id,
        submittedBy: item.source,
        ingestedAt,
      },
    }));
    // The swap is one transaction under a per-source lock: searches see the old version or
    // the new one, never a mix or nothing, and concurrent ingests of a source take turns.
    const result = await deps.transaction(async (tx) => {
      await tx.query(INGEST_LOCK_SOURCE, [`${INGEST_WORK_TYPE}:${parsed.memoryType}:${parsed.source}`]);
      if (unchanged((await tx.query(INGEST_SOURCE_STATE, [parsed.source, parsed.memoryType])).rows)) {
        return outcome('unchanged', 0);
      }
      const removed = await tx.query(INGEST_DELETE_STALE, [parsed.source, parsed.memoryType, documentHash]);
      await deps.store(entries, { tx });
      return outcome('stored', removed.rowCount ?? 0);
    });
    progress(chunks.length);
    return result;
  };
}
