// Work-item telemetry: a PRODUCER span at submit whose context travels in the pgmq message
// headers, a CONSUMER span per processing attempt that continues that trace (or links to it),
// lifecycle changes as span events plus the `animus.work.transitions` counter, the
// `animus.work.duration` histogram, and queue gauges fed by the work module. Never throws.
import { context as otelContext, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, BatchObservableResult, Context, Link, Span } from '@opentelemetry/api';
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
import { extractTraceContext, injectTraceHeaders } from './propagation.js';
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

function span0(): Span {
  return trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 });
}

function failSpan(span: Span, error: unknown): void {
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
const eventAttrsCache = new Map<string, Attributes>();

function eventAttrs(from: string, to: string): Attributes {
  const key = `${from}\u0000${to}`;
  let attrs = eventAttrsCache.get(key);
  if (attrs === undefined) {
    attrs = Object.freeze({ [WorkAttr.stateFrom]: from, [WorkAttr.stateTo]: to });
    if (eventAttrsCache.size < EVENT_ATTRS_LIMIT) eventAttrsCache.set(key, attrs);
  }
  return attrs;
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
    const count = workTransitionCount(fromState, to, workType);
    span?.addEvent(WORK_TRANSITION_EVENT, ownSpan ? eventAttrs(fromState, to) : count.attributes);
    count.value++;
    ensureInstruments();
  } catch {
    // Telemetry never throws into callers.
  }
}

class ProducerSpan implements WorkProducerSpan {
  readonly span: Span;
  readonly context: Context;
  readonly headers: MessageHeaders;
  readonly #workType: string;
  #ended = false;

  constructor(options: WorkSpanOptions) {
    this.#workType = options.workType;
    const parent = options.parent ?? otelContext.active();
    let span: Span;
    let ctx: Context;
    try {
      const attrs: Attributes = {
        [MessagingAttr.system]: MESSAGING_SYSTEM,
        [MessagingAttr.destinationName]: options.queue,
        [MessagingAttr.operationType]: 'send',
        [MessagingAttr.operationName]: 'send',
        [WorkAttr.type]: options.workType,
      };
      if (options.workId !== undefined) attrs[WorkAttr.id] = options.workId;
      if (options.dedupKey !== undefined) attrs[WorkAttr.dedupKey] = options.dedupKey;
      span = animusTracer().startSpan(
        `send ${options.queue}`,
        { kind: SpanKind.PRODUCER, attributes: attrs },
        parent,
      );
      ctx = trace.setSpan(parent, span);
    } catch {
      span = span0();
      ctx = parent;
    }
    this.span = span;
    this.context = ctx;
    this.headers = injectTraceHeaders(ctx);
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

class ConsumerSpan implements WorkConsumerSpan {
  readonly span: Span;
  readonly context: Context;
  readonly #options: WorkAttemptOptions;
  readonly #started = performance.now();
  #ended = false;

  constructor(options: WorkAttemptOptions) {
    this.#options = options;
    const active = otelContext.active();
    let span: Span;
    let ctx: Context;
    try {
      const producer = trace.getSpanContext(extractTraceContext(options.headers));
      const attrs: Attributes = {
        [MessagingAttr.system]: MESSAGING_SYSTEM,
        [MessagingAttr.destinationName]: options.queue,
        [MessagingAttr.operationType]: 'process',
        [MessagingAttr.operationName]: 'process',
        [WorkAttr.type]: options.workType,
        [WorkAttr.id]: options.workId,
        [WorkAttr.attempt]: options.attempt,
      };
      if (options.messageId !== undefined) attrs[MessagingAttr.messageId] = String(options.messageId);
      let links: Link[] | undefined;
      let parent = active;
      if (producer !== undefined && trace.isSpanContextValid(producer)) {
        if (options.linkOnly === true) links = [{ context: producer }];
        else parent = trace.setSpanContext(active, producer);
      }
      span = animusTracer().startSpan(
        `process ${options.queue}`,
        links === undefined
          ? { kind: SpanKind.CONSUMER, attributes: attrs }
          : { kind: SpanKind.CONSUMER, attributes: attrs, links },
        parent,
      );
      ctx = trace.setSpan(parent, span);
    } catch {
      span = span0();
      ctx = active;
    }
    this.span = span;
    this.context = ctx;
  }

  transition(from: string | undefined, to: string): void {
    lifecycle(this.span, from, to, this.#options.workType, true);
  }

  addEvent(from: string | undefined, to: string): void {
    try {
      this.span.addEvent(WORK_TRANSITION_EVENT, eventAttrs(from ?? 'none', to));
    } catch {
      // Telemetry never throws into callers.
    }
  }

  end(outcome: string, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const o = this.#options;
    try {
      this.span.setAttribute(WorkAttr.outcome, outcome);
      if (error !== undefined) failSpan(this.span, error);
      recordWorkDuration((performance.now() - this.#started) / 1000, {
        queue: o.queue,
        workType: o.workType,
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

// `animus.work.duration` attribute objects, one per (queue, work type, outcome); past the
// limit (thousands of work types) they are built per call.
const DURATION_ATTRS_LIMIT = 1024;
const durationAttrsCache = new Map<string, Attributes>();

/** Records one `animus.work.duration` point in seconds. Never throws. */
export function recordWorkDuration(
  seconds: number,
  attributes: { queue: string; workType: string; outcome: string },
): void {
  try {
    const key = `${attributes.queue}\u0000${attributes.workType}\u0000${attributes.outcome}`;
    let attrs = durationAttrsCache.get(key);
    if (attrs === undefined) {
      attrs = Object.freeze({
        [MessagingAttr.destinationName]: attributes.queue,
        [WorkAttr.type]: attributes.workType,
        [WorkAttr.outcome]: attributes.outcome,
      });
      if (durationAttrsCache.size < DURATION_ATTRS_LIMIT) durationAttrsCache.set(key, attrs);
    }
    animusInstruments().workDuration.record(seconds, attrs);
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
