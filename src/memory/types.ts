// The memory module's public shapes: what callers store, filter by and get back. Rows are
// mapped to these camelCase types in one place (memory-store.ts) and nowhere else.
import type pg from 'pg';

/** Anything that runs a query: a `pg.Pool`, a `pg.PoolClient` inside the caller's transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** A memory as stored. */
export interface Memory {
  readonly id: string;
  readonly content: string;
  /** Free text: `episodic`, `semantic`, `relational`, … */
  readonly memoryType: string;
  readonly source: string | null;
  readonly metadata: Record<string, unknown>;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** One memory to store. */
export interface MemoryEntry {
  /** The text; must not be empty or whitespace only. */
  content: string;
  /** Free text kind, e.g. `episodic`, `semantic`, `relational`. */
  memoryType: string;
  /** Where it came from (a URL, an agent, a conversation id). Part of its identity. */
  source?: string | null;
  /** A JSON object; default `{}`. */
  metadata?: Record<string, unknown>;
  /** A precomputed embedding of the configured dimension; omitted = computed here. */
  embedding?: number[];
}

/** Result of storing one entry, in input order. */
export interface StoredMemory {
  readonly id: string;
  /** False when the same content, type and source was already stored. */
  readonly created: boolean;
}

/** Filters every search and `count` accept; unknown keys are rejected. */
export interface MemoryFilters {
  /** One type or any of several. */
  memoryType?: string | string[];
  /** One source or any of several. */
  source?: string | string[];
  /** JSON containment: the memory's metadata contains this object (`@>`). */
  metadata?: Record<string, unknown>;
  /** Created at or after this instant. */
  createdAfter?: Date | string;
  /** Created strictly before this instant. */
  createdBefore?: Date | string;
}

/** Options of the single-sided searches. */
export interface SearchOptions {
  /** Rows to return, 1..1000. Default 10. */
  limit?: number;
  filters?: MemoryFilters;
}

/** A vector search hit. */
export interface VectorHit {
  readonly memory: Memory;
  /** Cosine similarity, 1 − cosine distance (higher is closer). */
  readonly score: number;
  readonly distance: number;
}

/** A keyword search hit. */
export interface KeywordHit {
  readonly memory: Memory;
  /** Keyword relevance (BM25, or ts_rank when so configured); only comparable within one query. */
  readonly score: number;
}

/** BM25's parameters: term-frequency saturation k1 (≥ 0) and length normalisation b (0..1). */
export interface Bm25Parameters {
  k1: number;
  b: number;
}

/** Weights of weighted reciprocal-rank fusion: score = Σ weight / (k + rank). */
export interface FusionWeights {
  /** Weight of the vector side. */
  vector: number;
  /** Weight of the keyword side. */
  keyword: number;
  /** Rank offset k. */
  k: number;
}

/** Options of {@link MemoryStore.hybridSearch}. */
export interface HybridSearchOptions {
  /** The query text (keyword side; embedded for the vector side unless `embedding` is given). */
  text: string;
  /** A precomputed query embedding. */
  embedding?: number[];
  /** Rows to return, 1..1000. Default 10. */
  limit?: number;
  filters?: MemoryFilters;
  /** Candidates taken from each side before fusion, ≥ limit, ≤ 1000. Default max(limit, 100). */
  candidates?: number;
  /** Fusion weights; default depends on the embedding model (see `defaultFusion`). */
  fusion?: Partial<FusionWeights>;
}

/** A hybrid search hit: the fused score and where it ranked on each side. */
export interface HybridHit {
  readonly memory: Memory;
  /** Fused score (weighted reciprocal rank). */
  readonly score: number;
  /** 1-based rank on the vector side, `null` when not among its candidates. */
  readonly vectorRank: number | null;
  /** 1-based rank on the keyword side, `null` when not among its candidates. */
  readonly keywordRank: number | null;
  /** Cosine similarity when ranked on the vector side. */
  readonly vectorScore: number | null;
  /** Keyword relevance when ranked on the keyword side. */
  readonly keywordScore: number | null;
}

/** Fields `update` may change; a new `content` is re-embedded. */
export interface MemoryPatch {
  content?: string;
  memoryType?: string;
  source?: string | null;
  /** Replaces the metadata object. */
  metadata?: Record<string, unknown>;
}

/** Options of writes: run inside the caller's transaction. */
export interface WriteOptions {
  tx?: Queryable;
}

/** Optional telemetry hook (GenAI memory spans: `create_memory`, `search_memory`, …). */
export interface MemoryTelemetry {
  withSpan<T>(
    operation: string,
    attributes: Record<string, string | number | boolean>,
    fn: () => Promise<T>,
  ): Promise<T>;
}
