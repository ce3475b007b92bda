// Every telemetry name animus emits, in one place: OTel GenAI semantic-convention attributes
// (development status, so pinned here rather than imported from the incubating entry point),
// messaging attributes for work spans, and animus's own `animus.*` names. Nothing else in
// the code base spells an attribute, metric or span name by hand.

/** Instrumentation scope name used for animus's tracer, meter and logger. */
export const INSTRUMENTATION_SCOPE = 'animus';

/** GenAI semantic-convention attribute keys. */
export const GenAiAttr = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestTemperature: 'gen_ai.request.temperature',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTopP: 'gen_ai.request.top_p',
  requestTopK: 'gen_ai.request.top_k',
  requestFrequencyPenalty: 'gen_ai.request.frequency_penalty',
  requestPresencePenalty: 'gen_ai.request.presence_penalty',
  requestStopSequences: 'gen_ai.request.stop_sequences',
  requestSeed: 'gen_ai.request.seed',
  requestChoiceCount: 'gen_ai.request.choice.count',
  requestStream: 'gen_ai.request.stream',
  requestEncodingFormats: 'gen_ai.request.encoding_formats',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  responseTimeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  usageCacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  usageCacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  embeddingsDimensionCount: 'gen_ai.embeddings.dimension.count',
  tokenType: 'gen_ai.token.type',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  systemInstructions: 'gen_ai.system_instructions',
  memoryStoreId: 'gen_ai.memory.store.id',
  memoryRecordId: 'gen_ai.memory.record.id',
  memoryRecordCount: 'gen_ai.memory.record.count',
  memoryQueryText: 'gen_ai.memory.query.text',
} as const;

/** General (stable) attribute keys shared with other conventions. */
export const CommonAttr = {
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  serviceName: 'service.name',
  serviceVersion: 'service.version',
  serviceInstanceId: 'service.instance.id',
  /** On the one data point that takes a metric's attribute sets past its cardinality limit. */
  metricOverflow: 'otel.metric.overflow',
} as const;

/** The span event a recorded exception becomes, and its attribute keys. */
export const EXCEPTION_EVENT = 'exception';
export const ExceptionAttr = {
  type: 'exception.type',
  message: 'exception.message',
  stacktrace: 'exception.stacktrace',
} as const;

/** Messaging attribute keys used on work spans (pgmq is the messaging system). */
export const MessagingAttr = {
  system: 'messaging.system',
  destinationName: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  messageId: 'messaging.message.id',
} as const;

/** animus's own attribute keys for work items. */
export const WorkAttr = {
  type: 'animus.work.type',
  id: 'animus.work.id',
  attempt: 'animus.work.attempt',
  dedupKey: 'animus.work.dedup_key',
  mergedInto: 'animus.work.merged_into',
  stateFrom: 'animus.work.state.from',
  stateTo: 'animus.work.state.to',
  outcome: 'animus.work.outcome',
} as const;

/**
 * Attribute keys the memory module hands to the memory span hook; the hook maps the first
 * three onto the GenAI memory conventions and records the rest as they are.
 */
export const MemoryAttr = {
  count: 'animus.memory.count',
  id: 'animus.memory.id',
  query: 'animus.memory.query',
  search: 'animus.memory.search',
  limit: 'animus.memory.limit',
} as const;

/** `gen_ai.operation.name` values animus emits. */
export const GenAiOperation = {
  chat: 'chat',
  embeddings: 'embeddings',
  searchMemory: 'search_memory',
  createMemory: 'create_memory',
  updateMemory: 'update_memory',
  deleteMemory: 'delete_memory',
} as const;

/** A memory operation name. */
export type MemoryOperation =
  | typeof GenAiOperation.searchMemory
  | typeof GenAiOperation.createMemory
  | typeof GenAiOperation.updateMemory
  | typeof GenAiOperation.deleteMemory;

/**
 * `gen_ai.provider.name` of the bundled offline embedding model. The conventions list no value
 * for an in-process model, so animus uses its own; such spans also have kind INTERNAL.
 */
export const LOCAL_PROVIDER_NAME = 'animus.local';

/** `gen_ai.provider.name` for OpenAI and OpenAI-compatible endpoints. */
export const OPENAI_PROVIDER_NAME = 'openai';

/** `gen_ai.memory.store.id` of animus's memory store: the `memories` table. */
export const MEMORY_STORE_ID = 'memories';

/** `gen_ai.token.type` values. */
export const TokenType = { input: 'input', output: 'output' } as const;

/** `error.type` fallback when nothing more specific is known (from the conventions). */
export const ERROR_TYPE_OTHER = '_OTHER';

/** Messaging system name on work spans. */
export const MESSAGING_SYSTEM = 'pgmq';

/** Metric names. */
export const MetricName = {
  tokenUsage: 'gen_ai.client.token.usage',
  operationDuration: 'gen_ai.client.operation.duration',
  workTransitions: 'animus.work.transitions',
  workDuration: 'animus.work.duration',
  queueLength: 'animus.queue.length',
  queueOldestAge: 'animus.queue.oldest_message.age',
} as const;

/** Bucket boundaries of `gen_ai.client.token.usage` given by the GenAI metric conventions. */
export const TOKEN_USAGE_BUCKETS: readonly number[] = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/** Bucket boundaries (seconds) of `gen_ai.client.operation.duration` given by the conventions. */
export const OPERATION_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** Bucket boundaries (seconds) of `animus.work.duration`: 5 ms to about 20 minutes. */
export const WORK_DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200,
];

/** Span event name for a work item's lifecycle change. */
export const WORK_TRANSITION_EVENT = 'animus.work.transition';

/** Message header keys carrying the W3C trace context. */
export const TraceHeader = { traceparent: 'traceparent', tracestate: 'tracestate' } as const;
