// Work-item telemetry: a PRODUCER span at submit whose context travels in the pgmq message
// headers, a CONSUMER span per processing attempt that continues that trace (or links to it),
// lifecycle changes as span events plus the `animus.work.transitions` counter, the
// `animus.work.duration` histogram, and queue gauges fed by the work module. Never throws.
import { context as otelContext, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, BatchObservableResult, Context, Link, Span } from '@opentelemetry/api';
import { DirectSpan, directSpanSink, frozenAttributes, startDirectSpan } from './direct-spans.js';
import { errorTypeOf } from './genai.js';
import {
  animusInstruments,
  animusTracer,
  ensureInstruments,
  safely,
  workTransitionCount,
} from './instruments.js';
import {
  CommonAttr,
  MESSAGING_SYSTEM,
  MessagingAttr,
  MetricName,
  WORK_TRANSITION_EVENT,
  WorkAttr,
} from './names.js';
import { extractTraceContext, injectTraceHeaders, readTraceParent, w3cTraceHeaders } from './propagation.js';
import { withSpan } from './span-context.js';
import { recordWorkDuration } from './work-duration.js';
import type { MessageHeaders } from './propagation.js';

/** Identity of a work item as far as telemetry is concerned. */
export interface WorkSpanOptions {
  /** pgmq queue name (`messaging.destination.name`). */
  queue: string;
  /** `animus.work.type`. */
  workType: string;
  /** `animus.work.id`, when already known (it may be added later with `setWorkItem`). */
  workId?: string;
  /** `animus.work.dedup_key`, when the submit has one. */
  dedupKey?: string;
  /** Parent context. Default: the active context. */
  parent?: Context;
}

/** The PRODUCER span of a submit. */
export interface WorkProducerSpan {
  readonly span: Span;
  /** The context with this span active. */
  readonly context: Context;
  /** `traceparent`/`tracestate` (and any globally configured fields) for the pgmq message. */
  readonly headers: MessageHeaders;
  /** Adds the item id and pgmq message id once they exist. */
  setWorkItem(ids: { workId?: string; messageId?: string | number | bigint }): void;
  /** A lifecycle change (event + counter), e.g. `(undefined, 'queued')` or `(undefined, 'merged')`. */
  transition(from: string | undefined, to: string): void;
  /** Ends the span; with an error, records `error.type` and status ERROR. */
  end(error?: unknown): void;
}

/** A non-recording span of the invalid context (what telemetry falls back to on a fault). */
export function span0(): Span {
  return trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 });
}

/** `error.type`, the exception and status ERROR on `span`. */
export function failSpan(span: Span, error: unknown): void {
  span.setAttribute(CommonAttr.errorType, errorTypeOf(error));
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

// The event attributes of a lifecycle change on animus's own work spans: from- and to-state
// only, since those spans carry `animus.work.type` themselves. One frozen object per pair (up
// to a limit, past which they are built per call: states are few, but the API takes any).
const EVENT_ATTRS_LIMIT = 256;
const eventAttrsCache = new Map<string, Map<string, Attributes>>();
let eventAttrsCount = 0;

/** The shared, frozen attributes of a lifecycle event from `from` to `to` on a work span. */
export function eventAttrs(from: string, to: string): Attributes {
  let byTo = eventAttrsCache.get(from);
  let attrs = byTo?.get(to);
  if (attrs === undefined) {
    attrs = Object.freeze({ [WorkAttr.stateFrom]: from, [WorkAttr.stateTo]: to });
    if (eventAttrsCount < EVENT_ATTRS_LIMIT) {
      if (byTo === undefined) eventAttrsCache.set(from, (byTo = new Map()));
      byTo.set(to, attrs);
      eventAttrsCount++;
    }
  }
  return attrs;
}

/**
 * A lifecycle event on one of animus's own work spans (its attributes are trusted), at `time`
 * (epoch ms; default now) on a direct span.
 */
export function ownEvent(span: Span, from: string, to: string, time?: number): void {
  if (span instanceof DirectSpan) span.addTrustedEvent(WORK_TRANSITION_EVENT, eventAttrs(from, to), time);
  else span.addEvent(WORK_TRANSITION_EVENT, eventAttrs(from, to));
}

// The constant attributes of direct work spans, one frozen set per operation, queue and work
// type (past the limit built per span), with the span name (`{operation} {queue}`).
const BASE_ATTRS_LIMIT = 1024;
/** A work span's constant attributes (frozen), their count, and the span's name. */
export type BaseAttrs = { attributes: Attributes; count: number; name: string };
const baseAttrsCache = {
  send: new Map<string, Map<string, BaseAttrs>>(),
  process: new Map<string, Map<string, BaseAttrs>>(),
};
let baseAttrsCount = 0;

/** The constant attributes and name of `{operation} {queue}` spans of one work type. */
export function baseAttrs(operation: 'send' | 'process', queue: string, workType: string): BaseAttrs {
  const byQueue = baseAttrsCache[operation];
  let byType = byQueue.get(queue);
  let base = byType?.get(workType);
  if (base === undefined) {
    base = {
      ...frozenAttributes({
        [MessagingAttr.system]: MESSAGING_SYSTEM,
        [MessagingAttr.destinationName]: queue,
        [MessagingAttr.operationType]: operation,
        [MessagingAttr.operationName]: operation,
        [WorkAttr.type]: workType,
      }),
      name: `${operation} ${queue}`,
    };
    if (baseAttrsCount < BASE_ATTRS_LIMIT) {
      if (byType === undefined) byQueue.set(queue, (byType = new Map()));
      byType.set(workType, base);
      baseAttrsCount++;
    }
  }
  return base;
}

/**
 * A lifecycle change: the `animus.work.transition` event on `span` (when given) and one
 * `animus.work.transitions` count. The event names the work type unless the span is one of
 * animus's own work spans (`ownSpan`), which carry it already. Never throws.
 */
function lifecycle(
  span: Span | undefined,
  from: string | undefined,
  to: string,
  workType: string,
  ownSpan: boolean,
): void {
  try {
    const fromState = from ?? 'none';
    if (span !== undefined) {
      if (ownSpan) ownEvent(span, fromState, to);
      else span.addEvent(WORK_TRANSITION_EVENT, workTransitionCount(fromState, to, workType).attributes);
    }
  } catch {
    // Telemetry never throws into callers.
  }
  countWorkTransitions(from, to, workType, 1);
}

class ProducerSpan implements WorkProducerSpan {
  readonly span: Span;
  readonly headers: MessageHeaders;
  readonly #workType: string;
  readonly #parent: Context;
  #context: Context | undefined;
  #ended = false;

  constructor(options: WorkSpanOptions) {
    this.#workType = options.workType;
    const parent = options.parent ?? otelContext.active();
    this.#parent = parent;
    let span: Span;
    let headers: MessageHeaders | undefined;
    try {
      const own: Attributes = {};
      if (options.workId !== undefined) own[WorkAttr.id] = options.workId;
      if (options.dedupKey !== undefined) own[WorkAttr.dedupKey] = options.dedupKey;
      const base = baseAttrs('send', options.queue, options.workType);
      const sink = directSpanSink();
      span =
        sink === undefined
          ? animusTracer().startSpan(
              base.name,
              { kind: SpanKind.PRODUCER, attributes: { ...base.attributes, ...own } },
              parent,
            )
          : startDirectSpan(
              sink,
              base.name,
              SpanKind.PRODUCER,
              parent,
              undefined,
              base.attributes,
              base.count,
              own,
            );
      // Under the SDK's default propagators and with no baggage to carry, the headers are the
      // W3C pair alone, written here without a pass through the propagators (a recording
      // direct span's ids are valid as made; anything else is checked).
      if (sink?.w3cPropagation === true && propagation.getBaggage(parent) === undefined)
        headers = w3cTraceHeaders(span.spanContext(), span instanceof DirectSpan);
    } catch {
      span = span0();
    }
    this.span = span;
    this.headers = headers ?? injectTraceHeaders(this.context);
  }

  /** Built when first read: a submit needs only the headers. */
  get context(): Context {
    return (this.#context ??= withSpan(this.#parent, this.span));
  }

  setWorkItem(ids: { workId?: string; messageId?: string | number | bigint }): void {
    try {
      if (ids.workId !== undefined) this.span.setAttribute(WorkAttr.id, ids.workId);
      if (ids.messageId !== undefined) this.span.setAttribute(MessagingAttr.messageId, String(ids.messageId));
    } catch {
      // Telemetry never throws into callers.
    }
  }

  transition(from: string | undefined, to: string): void {
    lifecycle(this.span, from, to, this.#workType, true);
  }

  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      if (error !== undefined) failSpan(this.span, error);
      this.span.end();
    } catch {
      // Telemetry never throws into callers.
    }
  }
}

/**
 * Starts the PRODUCER span `send {queue}` for a submit and returns the message headers that
 * carry its context. Put `headers` into the pgmq message (`pgmq.send(queue, msg, headers)`),
 * call `transition(undefined, 'queued' | 'merged')`, and `end()` after the transaction.
 */
export function startWorkSpan(options: WorkSpanOptions): WorkProducerSpan {
  return new ProducerSpan(options);
}
/** Identity of one processing attempt. */
export interface WorkAttemptOptions {
  queue: string;
  workType: string;
  workId: string;
  /** `animus.work.attempt`, 1 for the first. */
  attempt: number;
  /** pgmq `msg_id`. */
  messageId?: string | number | bigint;
  /** The pgmq message headers (as read; may be `null`). */
  headers?: unknown;
  /**
   * `false` (default): the attempt is a child of the submit's span, one connected trace.
   * `true`: the attempt starts a new trace under the active context, linked to the submit.
   */
  linkOnly?: boolean;
}

/** The CONSUMER span of one processing attempt. */
export interface WorkConsumerSpan {
  readonly span: Span;
  /** The context with this span active: run the handler in it (`context.with`). */
  readonly context: Context;
  /** A lifecycle change (event + counter), e.g. `('queued', 'running')`. */
  transition(from: string | undefined, to: string): void;
  /** The span event of a lifecycle change only, for changes counted elsewhere. */
  addEvent(from: string | undefined, to: string): void;
  /**
   * Ends the attempt: records `animus.work.duration` with `animus.work.outcome = outcome`
   * (e.g. `completed`, `retry`, `dead`), and with an error `error.type` + status ERROR.
   */
  end(outcome: string, error?: unknown): void;
}

/**
 * The CONSUMER span of one attempt (see {@link startWorkConsumerSpan}); telemetry's own worker
 * hook extends it, so an attempt is one object besides its span.
 */
export class ConsumerSpan implements WorkConsumerSpan {
  readonly span: Span;
  readonly context: Context;
  readonly #queue: string;
  readonly #workType: string;
  readonly #started = performance.now();
  #ended = false;

  constructor(options: WorkAttemptOptions) {
    this.#queue = options.queue;
    this.#workType = options.workType;
    const active = otelContext.active();
    let span: Span;
    let ctx: Context;
    try {
      const sink = directSpanSink();
      // Read as W3C headers, the producer's context is valid whenever it is there.
      const w3c = sink?.w3cPropagation === true;
      const producer = w3c
        ? readTraceParent(options.headers)
        : trace.getSpanContext(extractTraceContext(options.headers));
      const own: Attributes = { [WorkAttr.id]: options.workId, [WorkAttr.attempt]: options.attempt };
      if (options.messageId !== undefined) own[MessagingAttr.messageId] = String(options.messageId);
      const valid = producer !== undefined && (w3c || trace.isSpanContextValid(producer));
      const links: Link[] | undefined =
        valid && options.linkOnly === true ? [{ context: producer }] : undefined;
      const parentSpan = valid && options.linkOnly !== true ? producer : undefined;
      const base = baseAttrs('process', options.queue, options.workType);
      const name = base.name;
      if (sink !== undefined) {
        span = startDirectSpan(
          sink,
          name,
          SpanKind.CONSUMER,
          active,
          parentSpan,
          base.attributes,
          base.count,
          own,
          links,
        );
      } else {
        const attributes = { ...base.attributes, ...own };
        span = animusTracer().startSpan(
          name,
          links === undefined
            ? { kind: SpanKind.CONSUMER, attributes }
            : { kind: SpanKind.CONSUMER, attributes, links },
          parentSpan === undefined ? active : trace.setSpanContext(active, parentSpan),
        );
      }
      // The span replaces the producer's span context as the active span: `active` will do.
      ctx = withSpan(active, span);
    } catch {
      span = span0();
      ctx = active;
    }
    this.span = span;
    this.context = ctx;
  }

  transition(from: string | undefined, to: string): void {
    lifecycle(this.span, from, to, this.#workType, true);
  }

  addEvent(from: string | undefined, to: string): void {
    try {
      ownEvent(this.span, from ?? 'none', to);
    } catch {
      // Telemetry never throws into callers.
    }
  }

  end(outcome: string, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      this.span.setAttribute(WorkAttr.outcome, outcome);
      if (error !== undefined) failSpan(this.span, error);
      recordWorkDuration((performance.now() - this.#started) / 1000, {
        queue: this.#queue,
        workType: this.#workType,
        outcome,
      });
      this.span.end();
    } catch {
      // Telemetry never throws into callers.
    }
  }
}

/**
 * Starts the CONSUMER span `process {queue}` for one attempt, continuing the trace carried in
 * `headers` (or linking to it with `linkOnly`). Without usable headers it is a child of the
 * active context.
 */
export function startWorkConsumerSpan(options: WorkAttemptOptions): WorkConsumerSpan {
  return new ConsumerSpan(options);
}

/**
 * Records a lifecycle change: a span event `animus.work.transition` on `span` (when given)
 * and one `animus.work.transitions` count with from-state (`none` for a new item), to-state
 * and work type. Never throws.
 */
export function recordWorkLifecycle(
  span: Span | undefined,
  from: string | undefined,
  to: string,
  workType: string,
): void {
  lifecycle(span, from, to, workType, false);
}

/**
 * Counts `n` lifecycle changes of items of one work type at once (`animus.work.transitions`,
 * as `n` calls of {@link recordWorkLifecycle} without a span count them): a batch's claims or
 * completions. Never throws.
 */
export function countWorkTransitions(
  from: string | undefined,
  to: string,
  workType: string,
  n: number,
): void {
  try {
    if (!(n > 0)) return;
    workTransitionCount(from ?? 'none', to, workType).value += n;
    ensureInstruments();
  } catch {
    // Telemetry never throws into callers.
  }
}

/** One queue's numbers, as the work module reads them from `pgmq.metrics_all()`. */
export interface QueueMetricsSample {
  queue: string;
  /** `queue_length`: messages in the queue (visible or not). */
  length: number;
  /** `oldest_msg_age_sec`; `null`/`undefined` when the queue is empty. */
  oldestAgeSeconds: number | null | undefined;
}

/**
 * Registers the observable gauges `animus.queue.length` and `animus.queue.oldest_message.age`
 * (seconds) on the current global meter provider; `fetchMetrics` runs once per collection. A
 * failing fetch reports nothing for that round. Returns a function that unregisters them.
 */
export function registerQueueGauges(fetchMetrics: () => Promise<QueueMetricsSample[]>): () => void {
  try {
    const { meter } = animusInstruments();
    const length = meter.createObservableGauge(MetricName.queueLength, {
      description: 'Messages in the pgmq queue, visible or not',
      unit: '{message}',
    });
    const age = meter.createObservableGauge(MetricName.queueOldestAge, {
      description: 'Age of the oldest message in the pgmq queue',
      unit: 's',
    });
    const callback = async (observer: BatchObservableResult): Promise<void> => {
      let samples: QueueMetricsSample[];
      try {
        samples = await fetchMetrics();
      } catch {
        return;
      }
      for (const s of samples) {
        const attrs = { [MessagingAttr.destinationName]: s.queue };
        observer.observe(length, s.length, attrs);
        if (typeof s.oldestAgeSeconds === 'number') observer.observe(age, s.oldestAgeSeconds, attrs);
      }
    };
    meter.addBatchObservableCallback(callback, [length, age]);
    return () => safely(() => meter.removeBatchObservableCallback(callback, [length, age]));
  } catch {
    return () => {};
  }
}
