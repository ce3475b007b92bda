// Spans for memory operations by the GenAI memory conventions: `search_memory`,
// `create_memory`, `update_memory`, `delete_memory`, kind INTERNAL (the memory store runs in
// the caller's process), store id `memories`, record counts, and query text only when
// content capture is on. The wrapped function's result and errors pass through unchanged.
import { context as otelContext, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import { errorTypeOf } from './genai.js';
import { animusTracer, safely } from './instruments.js';
import { CommonAttr, GenAiAttr, GenAiOperation, MEMORY_STORE_ID } from './names.js';
import type { MemoryOperation } from './names.js';
import { contentCaptureEnabled } from './settings.js';

/** What is known about a memory operation when it starts. */
export interface MemorySpanAttributes {
  /** `gen_ai.memory.store.id`. Default `memories` (animus's memories table). */
  storeId?: string;
  /** `gen_ai.memory.record.id` when the operation targets one record. */
  recordId?: string;
  /** `gen_ai.memory.record.count` when known up front (records to create/update/delete). */
  recordCount?: number;
  /** Search text; recorded as `gen_ai.memory.query.text` only with content capture on. */
  queryText?: string;
  /** Override of the process content-capture setting for this span. */
  captureContent?: boolean;
}

/** Lets the wrapped function add what it learns while running. */
export interface MemorySpanHandle {
  readonly span: Span;
  setRecordCount(count: number): void;
  setRecordId(id: string): void;
}

/**
 * Runs `fn` inside a memory-operation span named after `operation`. For `search_memory`,
 * when `fn` returns an array and did not set a count, `gen_ai.memory.record.count` is the
 * array's length. On a throw, `error.type` and status ERROR are set and the error rethrown.
 */
export async function withMemorySpan<T>(
  operation: MemoryOperation,
  attributes: MemorySpanAttributes,
  fn: (handle: MemorySpanHandle) => Promise<T>,
): Promise<T> {
  let span: Span;
  let countSet = attributes.recordCount !== undefined;
  try {
    const attrs: Attributes = {
      [GenAiAttr.operationName]: operation,
      [GenAiAttr.memoryStoreId]: attributes.storeId ?? MEMORY_STORE_ID,
    };
    if (attributes.recordId !== undefined) attrs[GenAiAttr.memoryRecordId] = attributes.recordId;
    if (attributes.recordCount !== undefined) attrs[GenAiAttr.memoryRecordCount] = attributes.recordCount;
    const capture = attributes.captureContent ?? contentCaptureEnabled();
    if (capture && attributes.queryText !== undefined) {
      attrs[GenAiAttr.memoryQueryText] = attributes.queryText;
    }
    span = animusTracer().startSpan(operation, { kind: SpanKind.INTERNAL, attributes: attrs });
  } catch {
    span = trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 });
  }
  const handle: MemorySpanHandle = {
    span,
    setRecordCount: (count) =>
      safely(() => {
        countSet = true;
        span.setAttribute(GenAiAttr.memoryRecordCount, count);
      }),
    setRecordId: (id) => safely(() => span.setAttribute(GenAiAttr.memoryRecordId, id)),
  };
  let result: T;
  try {
    result = await otelContext.with(trace.setSpan(otelContext.active(), span), () => fn(handle));
  } catch (error) {
    safely(() => {
      span.setAttribute(CommonAttr.errorType, errorTypeOf(error));
      if (error instanceof Error) span.recordException(error);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      span.end();
    });
    throw error;
  }
  safely(() => {
    if (!countSet && operation === GenAiOperation.searchMemory && Array.isArray(result)) {
      span.setAttribute(GenAiAttr.memoryRecordCount, result.length);
    }
    span.end();
  });
  return result;
}
