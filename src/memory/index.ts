// Semantic memory: the MemoryStore (store, search, textSearch, hybridSearch, get, update,
// delete, count), the LangChain VectorStore over it, and the `memory.reembed` work that
// moves every memory to the configured embedding model.
export { DEFAULT_BM25, DEFAULT_KEYWORD_CANDIDATES, MemoryStore } from './memory-store.js';
export type { KeywordRanking } from './sql.js';
export { contentHash } from './rows.js';
export type { MemoryStoreOptions } from './memory-store.js';
export { AnimusVectorStore, memoryToDocument } from './vector-store.js';
export type { AnimusVectorStoreOptions } from './vector-store.js';
export { defaultFusion, EQUAL_FUSION, LOCAL_MODEL_FUSION, reciprocalRank } from './fusion.js';
export { MAX_CONTENT_CHARS, MAX_ENTRIES, MAX_LIMIT, MAX_METADATA_BYTES } from './validate.js';
export type {
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
export { finishReembed, planReembed, REEMBED_WORK_TYPE, reembedHandler, startReembed } from './reembed.js';
export type {
  ReembedContext,
  ReembedPlan,
  ReembedResult,
  ReembedSubmission,
  ReembedTarget,
  ReembedWorkItem,
} from './reembed.js';
