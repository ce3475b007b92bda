// Telemetry: GenAI spans and metrics for every chat and embeddings call, memory-operation
// spans, work-item PRODUCER/CONSUMER spans linked through pgmq headers, JSON logs, and the
// service's SDK setup. Everything but `initTelemetry` uses only `@opentelemetry/api`.
export { GenAiCallbackHandler, instrumentChatModel } from './langchain-handler.js';
export type { GenAiCallbackHandlerOptions } from './langchain-handler.js';
export { instrumentEmbeddings } from './embeddings.js';
export type { InstrumentEmbeddingsOptions } from './embeddings.js';
export {
  errorTypeOf,
  recordOperationDuration,
  recordTokenUsage,
  serverOf,
  startChatSpan,
  startEmbeddingSpan,
} from './genai.js';
export type {
  GenAiMetricAttributes,
  GenAiRequest,
  GenAiRequestParams,
  GenAiResult,
  GenAiSpan,
  TokenUsage,
} from './genai.js';
export { withMemorySpan } from './memory-spans.js';
export type { MemorySpanAttributes, MemorySpanHandle } from './memory-spans.js';
export { recordWorkDuration } from './work-duration.js';
export {
  recordWorkLifecycle,
  registerQueueGauges,
  startWorkConsumerSpan,
  startWorkSpan,
} from './work-spans.js';
export type {
  QueueMetricsSample,
  WorkAttemptOptions,
  WorkConsumerSpan,
  WorkProducerSpan,
  WorkSpanOptions,
} from './work-spans.js';
export { createMemoryTelemetry, createWorkTracing, traceWorkAttempts } from './hooks.js';
export type {
  ClaimedItemLike,
  MemoryTelemetryHooks,
  SubmitOutcomeLike,
  SubmitSpanHandle,
  SubmittedItemLike,
  WorkTracingHooks,
} from './hooks.js';
export { extractTraceContext, injectTraceHeaders } from './propagation.js';
export type { MessageHeaders } from './propagation.js';
export { createLogger, redactString, setLogBridge } from './logger.js';
export type { BridgedLogRecord, LogFields, Logger, LoggerLevel, LoggerOptions } from './logger.js';
export { contentCaptureEnabled, setContentCapture } from './settings.js';
export { initTelemetry } from './setup.js';
export type { ExportedSignals, InitTelemetryOptions, TelemetryHandle } from './setup.js';
export { ANIMUS_VERSION, animusTracer } from './instruments.js';
export {
  CommonAttr,
  GenAiAttr,
  GenAiOperation,
  INSTRUMENTATION_SCOPE,
  LOCAL_PROVIDER_NAME,
  MEMORY_STORE_ID,
  MemoryAttr,
  MessagingAttr,
  MetricName,
  OPENAI_PROVIDER_NAME,
  OPERATION_DURATION_BUCKETS,
  TOKEN_USAGE_BUCKETS,
  TraceHeader,
  WORK_DURATION_BUCKETS,
  WORK_TRANSITION_EVENT,
  WorkAttr,
} from './names.js';
export type { MemoryOperation } from './names.js';
