// animus's public SDK surface. Exports are listed by name: what is not here is internal.
export { Animus } from './client.js';
export type { AnimusClientOptions, AnimusHealth } from './client.js';

export { configFromEnv, defaultDataDir, resolveConfig, Secret } from './config/index.js';
export type { AnimusConfig, AnimusOptions, EmbeddingProvider, LogLevel } from './config/index.js';

export {
  AnimusError,
  ConfigError,
  IllegalTransitionError,
  NotFoundError,
  PermanentFailure,
  ProviderError,
  SchemaMismatchError,
  ValidationError,
} from './errors/index.js';
export type { AnimusErrorCode } from './errors/index.js';

export { WorkItems } from './work/work-items.js';
export type { FailOptions, QueueStats, ReadOptions } from './work/work-items.js';
export type {
  ClaimedItem,
  Json,
  Queryable,
  SubmitItem,
  SubmitResult,
  WorkFilter,
  WorkItem,
  WorkState,
  WriteOptions,
} from './work/types.js';
export { backoffSeconds } from './work/backoff.js';
export type { BackoffOptions } from './work/backoff.js';

export { Worker } from './worker/worker.js';
export type {
  AttemptHook,
  AttemptScope,
  HandlerContext,
  ProcessHook,
  WorkerLogger,
  WorkerOptions,
  WorkerStats,
  WorkHandler,
} from './worker/worker.js';

export { AnimusVectorStore, MemoryStore } from './memory/index.js';
export type {
  HybridHit,
  HybridSearchOptions,
  KeywordHit,
  Memory,
  MemoryEntry,
  MemoryFilters,
  MemoryPatch,
  SearchOptions,
  StoredMemory,
  VectorHit,
} from './memory/index.js';

export { createChatModel, createEmbeddings, LocalEmbeddings, NoChatModelError } from './llm/index.js';

export {
  GenAiCallbackHandler,
  initTelemetry,
  instrumentEmbeddings,
  recordOperationDuration,
  recordTokenUsage,
  recordWorkLifecycle,
  startChatSpan,
  startEmbeddingSpan,
  startWorkSpan,
} from './telemetry/index.js';
export type { TelemetryHandle } from './telemetry/index.js';
