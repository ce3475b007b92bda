// Ready-made implementations of the telemetry hooks the work, worker and memory modules
// accept (`WorkTracing`, the worker's `attempt` hook, `MemoryTelemetry`). They are typed
// structurally so telemetry stays a leaf module that imports nothing from its callers.
import { context as otelContext } from '@opentelemetry/api';
import { isPermanent, startLazyAttempt } from './attempt-span.js';
import { withMemorySpan } from './memory-spans.js';
import { GenAiAttr, GenAiOperation, MemoryAttr, WorkAttr } from './names.js';
import type { MemoryOperation } from './names.js';
import { ConsumerSpan, countWorkTransitions, startWorkSpan } from './work-spans.js';
import type { WorkProducerSpan } from './work-spans.js';
import { safely } from './instruments.js';

/** The fields of a submitted item that telemetry reads. */
export interface SubmittedItemLike {
  queue: string;
  workType: string;
  dedupKey?: string | null;
}

/** A submit's result as the work module reports it. */
export type SubmitOutcomeLike =
  | { status: 'queued'; id: string; msgId: bigint | number | string }
  | { status: 'merged'; id: string; mergedInto: string };

/** The PRODUCER span of one submit, as the work module drives it. */
export interface SubmitSpanHandle {
  readonly headers: Record<string, string>;
  end(result: SubmitOutcomeLike): void;
  fail(error: unknown): void;
}

/** Structural twin of the work module's `WorkTracing`. */
export interface WorkTracingHooks {
  submit(item: SubmittedItemLike): SubmitSpanHandle;
  /** `count` changes (default 1) of items of `workType`. */
  transition(from: string, to: string, workType: string, count?: number): void;
}

class SubmitSpan implements SubmitSpanHandle {
  readonly #producer: WorkProducerSpan;

  constructor(item: SubmittedItemLike) {
    this.#producer = startWorkSpan({
      queue: item.queue,
      workType: item.workType,
      ...(item.dedupKey === null || item.dedupKey === undefined ? {} : { dedupKey: item.dedupKey }),
    });
  }

  get headers(): Record<string, string> {
    return this.#producer.headers;
  }

  end(result: SubmitOutcomeLike): void {
    const producer = this.#producer;
    try {
      if (result.status === 'queued') {
        producer.setWorkItem({ workId: result.id, messageId: result.msgId });
      } else {
        producer.setWorkItem({ workId: result.id });
        producer.span.setAttribute(WorkAttr.mergedInto, result.mergedInto);
      }
      producer.transition(undefined, result.status);
    } catch {
      // Telemetry never throws into callers.
    }
    producer.end();
  }

  fail(error: unknown): void {
    this.#producer.end(error);
  }
}

const workTracing: WorkTracingHooks = {
  submit: (item) => new SubmitSpan(item),
  transition: (from, to, workType, count = 1) => countWorkTransitions(from, to, workType, count),
};

/**
 * Work tracing on the global OTel API: each submit is a PRODUCER span `send {queue}` whose
 * context goes into the pgmq message headers; on `end` the span gets the item id, message id
 * and a `none → queued|merged` transition; `transition` counts `animus.work.transitions`
 * (a batch's changes of one work type in one call).
 */
export function createWorkTracing(): WorkTracingHooks {
  return workTracing;
}

/** The fields of a claimed item that the process hook reads. */
export interface ClaimedItemLike {
  id: string;
  queue: string;
  workType: string;
  /** This attempt's number (1 for the first). */
  attempts: number;
  maxAttempts: number;
  msgId: bigint | number | string;
  headers: unknown;
}

/**
 * One attempt's CONSUMER span as the worker drives it (the worker's `AttemptScope`): the span
 * handle itself, so an attempt costs one object besides the span.
 */
class TracedAttempt extends ConsumerSpan {
  readonly #lastAttempt: boolean;

  constructor(item: ClaimedItemLike) {
    super({
      queue: item.queue,
      workType: item.workType,
      workId: item.id,
      attempt: item.attempts,
      messageId: item.msgId,
      headers: item.headers,
    });
    this.#lastAttempt = item.attempts >= item.maxAttempts;
    this.addEvent('queued', 'running');
  }

  /** Calls `handler(...args)` with the attempt's span active. */
  run<A extends unknown[], R>(handler: (...args: A) => R, ...args: A): R {
    return otelContext.with(this.context, handler, undefined, ...args);
  }

  completed(): void {
    this.addEvent('running', 'completed');
    this.end('completed');
  }

  failed(error: unknown): void {
    const dead = this.#lastAttempt || isPermanent(error);
    this.addEvent('running', dead ? 'dead' : 'queued');
    this.end(dead ? 'dead' : 'retry', error);
  }
}

/**
 * The worker's `attempt` hook: each attempt is a CONSUMER span `process {queue}` that
 * continues the submit's trace from the message headers, and the handler runs with it active.
 * Span events record `queued → running` and where the handler's result sends the item
 * (`completed`; on a throw `queued` for a retry while attempts remain, else `dead`);
 * `animus.work.duration` gets the attempt's time with outcome `completed`, `retry` or `dead`.
 * Under animus's own SDK setup the usual attempt is recorded lazily (attempt-span.ts): one
 * object until the handler asks for its span; the exported span is the same.
 */
export function traceWorkAttempts(
  item: ClaimedItemLike,
  batch?: readonly ClaimedItemLike[],
): {
  run<A extends unknown[], R>(handler: (...args: A) => R, ...args: A): R;
  completed(): void;
  failed(error: unknown): void;
} {
  return startLazyAttempt(item, batch) ?? new TracedAttempt(item);
}

/** Structural twin of the memory module's `MemoryTelemetry`. */
export interface MemoryTelemetryHooks {
  withSpan<T>(
    operation: string,
    attributes: Record<string, string | number | boolean>,
    fn: () => Promise<T>,
  ): Promise<T>;
}

const MEMORY_OPERATIONS = new Set<string>([
  GenAiOperation.searchMemory,
  GenAiOperation.createMemory,
  GenAiOperation.updateMemory,
  GenAiOperation.deleteMemory,
]);

/** Attribute keys the memory module may pass that map onto the GenAI memory conventions. */
const RECORD_COUNT_KEYS = new Set<string>([MemoryAttr.count, GenAiAttr.memoryRecordCount]);
const RECORD_ID_KEYS = new Set<string>([MemoryAttr.id, GenAiAttr.memoryRecordId]);
const QUERY_KEYS = new Set<string>([MemoryAttr.query, GenAiAttr.memoryQueryText]);

/**
 * Memory telemetry on the global OTel API: `withSpan('search_memory', attrs, fn)` becomes a
 * GenAI memory span (see {@link withMemorySpan}); `animus.memory.count`/`.id`/`.query` map
 * to the conventions' record count, record id and (content capture only) query text; other
 * attributes are kept as given.
 */
export function createMemoryTelemetry(): MemoryTelemetryHooks {
  return {
    withSpan(operation, attributes, fn) {
      if (!MEMORY_OPERATIONS.has(operation)) return fn();
      let recordCount: number | undefined;
      let recordId: string | undefined;
      let queryText: string | undefined;
      const rest: Record<string, string | number | boolean> = {};
      for (const [k, v] of Object.entries(attributes)) {
        if (RECORD_COUNT_KEYS.has(k) && typeof v === 'number') recordCount = v;
        else if (RECORD_ID_KEYS.has(k)) recordId = String(v);
        else if (QUERY_KEYS.has(k)) queryText = String(v);
        else rest[k] = v;
      }
      return withMemorySpan(
        operation as MemoryOperation,
        {
          ...(recordCount === undefined ? {} : { recordCount }),
          ...(recordId === undefined ? {} : { recordId }),
          ...(queryText === undefined ? {} : { queryText }),
        },
        (handle) => {
          safely(() => handle.span.setAttributes(rest));
          return fn();
        },
      );
    },
  };
}
