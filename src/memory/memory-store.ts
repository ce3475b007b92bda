// Semantic memory over the `memories` table: store (embed in batches, insert in bulk,
// idempotent on content + type + source), vector / keyword / hybrid search with filters,
// get, update (re-embeds), delete, count. Input is checked before anything is embedded,
// and embedding happens before any write, so a failing provider leaves nothing half-stored.
import type { Embeddings } from '@langchain/core/embeddings';
import type pg from 'pg';
import pgvector from 'pgvector';
import { NotFoundError, ProviderError, SqlState, sqlState, ValidationError } from '../errors/index.js';
import { defaultFusion } from './fusion.js';
import { storeEntries } from './bulk-store.js';
import { contentHash, filterParams, type MemoryRow, toMemory } from './rows.js';
import * as SQL from './sql.js';
import { VectorOid, vectorParam } from './vector-wire.js';
import type { KeywordRanking } from './sql.js';
import type {
  Bm25Parameters,
  FusionWeights,
  HybridHit,
  HybridSearchOptions,
  KeywordHit,
  Memory,
  MemoryEntry,
  MemoryFilters,
  MemoryPatch,
  MemoryTelemetry,
  Queryable,
  SearchOptions,
  StoredMemory,
  VectorHit,
  WriteOptions,
} from './types.js';
import {
  checkBm25,
  checkContent,
  checkEntries,
  checkFilters,
  checkId,
  checkLimit,
  checkPatch,
  checkVector,
  hasFilters,
  MAX_LIMIT,
} from './validate.js';

/** BM25 defaults: Robertson's k1 = 1.2 and b = 0.75, as in Lucene and most BM25 systems. */
export const DEFAULT_BM25: Bm25Parameters = { k1: 1.2, b: 0.75 };
/** Default keyword candidate budget (see `MemoryStoreOptions.keywordCandidates`). */
export const DEFAULT_KEYWORD_CANDIDATES = 500;

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  pool: pg.Pool;
  /** The configured LangChain embeddings (see `createEmbeddings`). */
  embeddings: Embeddings;
  /** The configured embedding dimension; every vector is checked against it. */
  dimensions: number;
  telemetry?: MemoryTelemetry;
  /** HNSW candidate list size per search (`hnsw.ef_search`). Default 100. */
  efSearch?: number;
  /** How keyword hits are scored. Default `bm25`; `ts_rank` is Postgres's own ranking. */
  keywordRanking?: KeywordRanking;
  /** BM25 parameters. Default k1 1.2, b 0.75. */
  bm25?: Partial<Bm25Parameters>;
  /** ts_rank normalisation bits (`keywordRanking: 'ts_rank'` only). Default 1 (divide by 1 + log length). */
  rankNormalization?: number;
  /**
   * Keyword candidate budget: candidates are the memories holding the query's rarest lexeme,
   * then the next rarest while the lexemes' document frequencies add up to at most this;
   * `null` ranks every memory holding any query lexeme (exhaustive). Default 500.
   */
  keywordCandidates?: number | null;
  /** Hybrid fusion weights; default `defaultFusion(embeddings)`. */
  fusion?: FusionWeights;
  /** Rows per INSERT statement of a bulk store. Default 1000. */
  insertChunk?: number;
}

/** Semantic memory on Postgres: see the module comment. Safe to share across callers. */
export class MemoryStore {
  readonly pool: pg.Pool;
  readonly embeddings: Embeddings;
  readonly dimensions: number;
  readonly fusion: FusionWeights;
  readonly #telemetry: MemoryTelemetry | undefined;
  readonly #efSearch: number;
  readonly #normalization: number;
  readonly #insertChunk: number;
  readonly #vectorOid = new VectorOid();
  readonly #ranking: KeywordRanking;
  /** The keyword and hybrid statements for that ranking, built once. */
  readonly #textSql: string;
  readonly #hybridSql: string;
  readonly #bm25: Bm25Parameters;
  readonly #budget: number | null;
  /** Pooled clients whose session already carries the search settings. */
  readonly #prepared = new WeakSet<object>();

  constructor(options: MemoryStoreOptions) {
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) {
      throw new ValidationError('dimensions', `must be a positive whole number, got ${options.dimensions}`);
    }
    this.pool = options.pool;
    this.embeddings = options.embeddings;
    this.dimensions = options.dimensions;
    this.fusion = options.fusion ?? defaultFusion(options.embeddings);
    this.#telemetry = options.telemetry;
    this.#efSearch = options.efSearch ?? 100;
    this.#normalization = options.rankNormalization ?? 1;
    this.#insertChunk = options.insertChunk ?? 1000;
    this.#ranking = options.keywordRanking ?? 'bm25';
    this.#textSql = SQL.textSearch(this.#ranking);
    this.#hybridSql = SQL.hybridSearch(this.#ranking);
    this.#bm25 = checkBm25({ ...DEFAULT_BM25, ...options.bm25 });
    const budget =
      options.keywordCandidates === undefined ? DEFAULT_KEYWORD_CANDIDATES : options.keywordCandidates;
    if (budget !== null && (!Number.isInteger(budget) || budget < 1)) {
      throw new ValidationError(
        'keywordCandidates',
        `must be a whole number ≥ 1 or null, got ${String(budget)}`,
      );
    }
    this.#budget = budget;
  }

  #span<T>(
    operation: string,
    attrs: Record<string, string | number | boolean>,
    fn: () => Promise<T>,
  ): Promise<T> {
    return this.#telemetry === undefined ? fn() : this.#telemetry.withSpan(operation, attrs, fn);
  }

  /** Embeds texts with the configured model, checking what comes back. */
  async embedTexts(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return [];
    const vectors = await this.embeddings.embedDocuments(texts);
    if (vectors.length !== texts.length) {
      throw new ProviderError(
        this.#provider(),
        this.#model(),
        `returned ${vectors.length} vectors for ${texts.length} texts`,
        {
          retryable: false,
        },
      );
    }
    return vectors.map((v, i) => {
      try {
        return checkVector(`embedding of text ${i}`, v, this.dimensions);
      } catch (err) {
        throw new ProviderError(this.#provider(), this.#model(), (err as Error).message, {
          retryable: false,
          cause: err,
        });
      }
    });
  }

  async #embedQuery(text: string): Promise<number[]> {
    const v = await this.embeddings.embedQuery(text);
    try {
      return checkVector('query embedding', v, this.dimensions);
    } catch (err) {
      throw new ProviderError(this.#provider(), this.#model(), (err as Error).message, {
        retryable: false,
        cause: err,
      });
    }
  }

  /** The keyword ranking's parameters, in SQL order: k1, b (BM25) or the normalisation bits. */
  #rankingParams(): number[] {
    return this.#ranking === 'bm25' ? [this.#bm25.k1, this.#bm25.b] : [this.#normalization];
  }

  #provider(): string {
    return (this.embeddings as { provider?: string }).provider ?? 'openai';
  }

  #model(): string {
    return (this.embeddings as { model?: string }).model ?? 'unknown';
  }

  /**
   * Stores entries: embeds those not yet stored (in batches), inserts them in bulk, and
   * returns one `{ id, created }` per entry in input order. The same content, type and source
   * is stored once. With `tx` everything runs in the caller's transaction; otherwise in one
   * transaction of its own. Nothing is written when any entry is invalid or embedding fails.
   */
  async store(entries: MemoryEntry[], options: WriteOptions = {}): Promise<StoredMemory[]> {
    const checked = checkEntries(entries, this.dimensions);
    if (checked.length === 0) return [];
    return this.#span('create_memory', { 'animus.memory.count': checked.length }, () =>
      storeEntries(
        {
          pool: this.pool,
          insertChunk: this.#insertChunk,
          vectorOid: this.#vectorOid,
          embedTexts: (texts) => this.embedTexts(texts),
        },
        checked,
        options.tx,
      ),
    );
  }

  /** Runs a search on a client carrying the search settings (or on the caller's `tx`). */
  async #searchQuery<R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[],
    tx?: Queryable,
  ): Promise<R[]> {
    if (tx !== undefined) {
      await tx.query(SQL.SEARCH_SESSION_SETTINGS, [true, String(this.#efSearch)]);
      return (await tx.query<R>(sql, params)).rows;
    }
    const client = await this.pool.connect();
    try {
      if (!this.#prepared.has(client)) {
        await client.query(SQL.SEARCH_SESSION_SETTINGS, [false, String(this.#efSearch)]);
        this.#prepared.add(client);
      }
      return (await client.query<R>(sql, params)).rows;
    } finally {
      client.release();
    }
  }

  /**
   * Vector search (cosine, HNSW). `query` is a text (embedded here) or a vector of the
   * configured dimension. A filtered search still returns `limit` rows when that many match.
   */
  async search(query: string | number[], options: SearchOptions & WriteOptions = {}): Promise<VectorHit[]> {
    const limit = checkLimit('limit', options.limit);
    const filters = checkFilters(options.filters);
    const vector =
      typeof query === 'string'
        ? (checkContent('query', query), undefined)
        : checkVector('query', query, this.dimensions);
    return this.#span(
      'search_memory',
      {
        'animus.memory.search': 'vector',
        'animus.memory.limit': limit,
        // Recorded as gen_ai.memory.query.text only when content capture is on.
        ...(typeof query === 'string' ? { 'animus.memory.query': query } : {}),
      },
      async () => {
        const v = vector ?? (await this.#embedQuery(query as string));
        const params = [...filterParams(filters), vectorParam(v), limit];
        type Row = MemoryRow & { distance: number };
        let rows = await this.#searchQuery<Row>(SQL.VECTOR_SEARCH, params, options.tx);
        if (rows.length < limit && hasFilters(filters)) {
          // The index scan gave up before finding `limit` matches: search the matches exactly.
          rows = await this.#searchQuery<Row>(SQL.VECTOR_SEARCH_EXACT, params, options.tx);
        }
        return rows.map((r) => ({ memory: toMemory(r), distance: r.distance, score: 1 - r.distance }));
      },
    );
  }

  /**
   * Keyword search: the query's English lexemes OR-ed together (whole-sentence queries
   * would match nothing with AND), ranked by relevance with length normalisation.
   */
  async textSearch(query: string, options: SearchOptions & WriteOptions = {}): Promise<KeywordHit[]> {
    checkContent('query', query);
    const limit = checkLimit('limit', options.limit);
    const filters = checkFilters(options.filters);
    return this.#span(
      'search_memory',
      { 'animus.memory.search': 'keyword', 'animus.memory.limit': limit, 'animus.memory.query': query },
      async () => {
        // One statement: the bounded candidates' ranking, filled up from every other match
        // when it holds fewer than `limit` rows (see SQL.textSearch).
        const rows = await this.#searchQuery<MemoryRow & { score: number }>(
          this.#textSql,
          [...filterParams(filters), query, limit, this.#budget, ...this.#rankingParams()],
          options.tx,
        );
        return rows.map((r) => ({ memory: toMemory(r), score: r.score }));
      },
    );
  }

  /**
   * Hybrid search in one SQL statement: `candidates` from the vector side and from the
   * keyword side, fused by weighted reciprocal rank. Each hit carries its fused score and
   * its rank on each side.
   */
  async hybridSearch(options: HybridSearchOptions & WriteOptions): Promise<HybridHit[]> {
    if (typeof options !== 'object' || options === null)
      throw new ValidationError('options', 'must be an object');
    const text = checkContent('text', options.text);
    const limit = checkLimit('limit', options.limit);
    const candidates = checkLimit('candidates', options.candidates, Math.max(limit, 100));
    if (candidates < limit) {
      throw new ValidationError('candidates', `must be at least limit (${limit}), got ${candidates}`, {
        limit,
      });
    }
    const filters = checkFilters(options.filters);
    const given =
      options.embedding === undefined
        ? undefined
        : checkVector('embedding', options.embedding, this.dimensions);
    const fusion = { ...this.fusion, ...options.fusion };
    for (const key of ['vector', 'keyword', 'k'] as const) {
      const v = fusion[key];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new ValidationError(`fusion.${key}`, `must be a finite number ≥ 0, got ${String(v)}`);
      }
    }
    return this.#span(
      'search_memory',
      { 'animus.memory.search': 'hybrid', 'animus.memory.limit': limit, 'animus.memory.query': text },
      async () => {
        const v = given ?? (await this.#embedQuery(text));
        type Row = MemoryRow & {
          fused_score: number;
          vector_rank: string | null;
          vector_score: number | null;
          keyword_rank: string | null;
          keyword_score: number | null;
        };
        const rows = await this.#searchQuery<Row>(
          this.#hybridSql,
          [
            ...filterParams(filters),
            vectorParam(v),
            text,
            candidates,
            limit,
            fusion.vector,
            fusion.keyword,
            fusion.k,
            this.#budget,
            ...this.#rankingParams(),
          ],
          options.tx,
        );
        return rows.map((r) => ({
          memory: toMemory(r),
          score: r.fused_score,
          vectorRank: r.vector_rank === null ? null : Number(r.vector_rank),
          keywordRank: r.keyword_rank === null ? null : Number(r.keyword_rank),
          vectorScore: r.vector_score,
          keywordScore: r.keyword_score,
        }));
      },
    );
  }

  /** One memory by id; throws NotFoundError when there is none. */
  async get(id: string, options: WriteOptions = {}): Promise<Memory> {
    const checked = checkId('id', id);
    const { rows } = await (options.tx ?? this.pool).query<MemoryRow>(SQL.GET_MEMORY, [checked]);
    if (rows[0] === undefined) throw new NotFoundError('memory', checked);
    return toMemory(rows[0]);
  }

  /** The stored embedding of one memory; throws NotFoundError when there is none. */
  async getEmbedding(id: string, options: WriteOptions = {}): Promise<number[]> {
    const checked = checkId('id', id);
    const { rows } = await (options.tx ?? this.pool).query<{ embedding: unknown }>(SQL.GET_EMBEDDING, [
      checked,
    ]);
    if (rows[0] === undefined) throw new NotFoundError('memory', checked);
    const e = rows[0].embedding;
    return typeof e === 'string' ? (pgvector.fromSql(e) as number[]) : (e as number[]);
  }

  /**
   * Changes a memory; a new `content` is re-embedded (before anything is written). Throws
   * NotFoundError for an unknown id, ValidationError when the change would duplicate another
   * memory's content, type and source.
   */
  async update(id: string, patch: MemoryPatch, options: WriteOptions = {}): Promise<Memory> {
    const checked = checkId('id', id);
    const p = checkPatch(patch);
    return this.#span('update_memory', {}, async () => {
      const vector = p.content === undefined ? undefined : (await this.embedTexts([p.content]))[0]!;
      try {
        const { rows } = await (options.tx ?? this.pool).query<MemoryRow>(SQL.UPDATE_MEMORY, [
          checked,
          p.content ?? null,
          p.content === undefined ? null : contentHash(p.content),
          vector === undefined ? null : vectorParam(vector),
          p.memoryType ?? null,
          p.source !== undefined,
          p.source ?? null,
          p.metadata === undefined ? null : JSON.stringify(p.metadata),
        ]);
        if (rows[0] === undefined) throw new NotFoundError('memory', checked);
        return toMemory(rows[0]);
      } catch (err) {
        if (sqlState(err) === SqlState.uniqueViolation) {
          throw new ValidationError('patch', 'another memory already has this content, type and source', {
            cause: err,
          });
        }
        throw err;
      }
    });
  }

  /** Deletes one memory or several; returns how many existed. */
  async delete(ids: string | string[], options: WriteOptions = {}): Promise<number> {
    const list = Array.isArray(ids) ? ids : [ids];
    if (list.length > MAX_LIMIT * 10) {
      throw new ValidationError('ids', `holds ${list.length} ids, more than ${MAX_LIMIT * 10}`, {
        limit: MAX_LIMIT * 10,
      });
    }
    const checked = list.map((id, i) => checkId(Array.isArray(ids) ? `ids[${i}]` : 'id', id));
    if (checked.length === 0) return 0;
    return this.#span('delete_memory', { 'animus.memory.count': checked.length }, async () => {
      const res = await (options.tx ?? this.pool).query(SQL.DELETE_MEMORIES, [checked]);
      return res.rowCount ?? 0;
    });
  }

  /** How many memories match the filters (all when none). */
  async count(filters?: MemoryFilters, options: WriteOptions = {}): Promise<number> {
    const f = checkFilters(filters);
    const { rows } = await (options.tx ?? this.pool).query<{ n: string }>(SQL.COUNT, filterParams(f));
    return Number(rows[0]?.n ?? 0);
  }
}
