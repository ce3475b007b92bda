// The CONSUMER span of one processing attempt, recorded lazily in its usual shape. Under
// animus's own SDK setup (direct work spans, W3C headers, the default sampler, spans going to
// the direct span queue alone), an attempt whose message carries a sampled version-00
// `traceparent` is one object: the worker's attempt scope, the context the handler runs in, and
// the span the handler sees. It keeps the item's ids and the attempt's start and end; span
// context, attribute objects and events are made only when the handler's code asks for the
// span (a DirectSpan with the same start then takes over), or, for an attempt nobody asked
// about, when it is encoded after its batch has settled (on the export thread, from a record:
// attempt-record.ts, or here). Exporters see the same span either way.
// Anything else (a custom sampler, trace state, no or unsampled parent) takes the DirectSpan
// from the start (hooks.ts). Never throws into the work path.
import { context as otelContext, diag, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import type {
  Attributes,
  AttributeValue,
  Context,
  Exception,
  Link,
  Span,
  SpanContext,
  SpanStatus,
  TimeInput,
} from '@opentelemetry/api';
import { fillAttemptFields, writeAttemptRecord, writeOwnAttributes } from './attempt-record.js';
import type { EndedAttempt, RecordBuffer, RecordTable } from './attempt-record.js';
import type { DirectSpanFields, EncodableSpan } from './direct-span-encoder.js';
import { directSpanSink, nowMs, startDirectSpan } from './direct-spans.js';
import type { DirectSpanSink } from './direct-spans.js';
import { WorkAttr } from './names.js';
import { isSampledVersion00, isSampledVersion00Form, readTraceParent } from './propagation.js';
import { keyMatches, SPAN_KEY } from './span-context.js';
import { recordWorkDurationOf } from './work-duration.js';
import { baseAttrs, eventAttrs, failSpan, ownEvent, span0 } from './work-spans.js';
import type { BaseAttrs } from './work-spans.js';
import type { ClaimedItemLike } from './hooks.js';

/** What `#ended` hands over, rewritten for every attempt (read at once by its callers). */
const ENDED: EndedAttempt = {
  traceparent: '',
  rootTraceId: '',
  idsUnchecked: false,
  spanId: '',
  spanIdHi: 0,
  spanIdLo: 0,
  start: 0,
  end: 0,
  base: { name: '', attributes: {} },
  workId: '',
  attempt: 0,
  messageId: '',
  outcome: '',
  firstEvent: {},
  lastEvent: {},
};

/** An attempt's first lifecycle event's attributes, and its last one's by where it went. */
const QUEUED_RUNNING = eventAttrs('queued', 'running');
/** Where an attempt goes: completed, or after a throw queued (a retry) or dead. */
type AttemptEnd = 'completed' | 'queued' | 'dead';
const RUNNING_TO: Readonly<Record<AttemptEnd, Attributes>> = Object.freeze({
  completed: eventAttrs('running', 'completed'),
  queued: eventAttrs('running', 'queued'),
  dead: eventAttrs('running', 'dead'),
});

/** `n` (0 to 2^32 - 1) as 8 lowercase hex digits. */
const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** Whether a handler's error asks for no retry (`PermanentFailure`, by its code). */
export function isPermanent(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'PERMANENT_FAILURE'
  );
}

/**
 * One attempt (see the module comment). Start it with {@link startLazyAttempt}; the worker
 * calls `run`, then `completed` or `failed`.
 */
export class LazyAttemptSpan implements Span, Context, EncodableSpan {
  /** Its `enqueue` takes the attempt once it ended (startLazyAttempt checked it is there). */
  readonly #sink: DirectSpanSink;
  /** The context active when the attempt began: the parent of the handler's context. */
  readonly #parentContext: Context;
  readonly #traceparent: string;
  readonly #base: BaseAttrs;
  readonly #queue: string;
  readonly #workType: string;
  readonly #workId: string;
  readonly #attempt: number;
  readonly #messageId: string;
  readonly #lastAttempt: boolean;
  readonly #start: number;
  /** Epoch ms of the end; 0 while running. */
  #end = 0;
  #outcome = '';
  /** The attributes of its last lifecycle event (running → where it went), once ended. */
  #lastEvent: Attributes = RUNNING_TO.completed;
  /**
   * The span id's four 16-bit parts once made (all 0 before; made as the SDK's random id
   * generator makes them), and its hex once asked for. A record takes the two 32-bit halves: an
   * attempt nobody asked about never makes the hex string. (Parts of 16 bits are small integers
   * to V8, kept in the object itself: halves of 32 bits would be numbers boxed on the heap.)
   */
  #id0 = 0;
  #id1 = 0;
  #id2 = 0;
  #id3 = 0;
  #spanId: string | undefined;
  /** The span taking over once the handler's code used it. */
  #span: Span | undefined;
  /**
   * Once the traceparent's ids have been checked (see {@link startLazyAttempt}: only its form
   * was when the attempt began in a context without a span): '' when they are valid, else the
   * trace id of the root span the attempt is then. Undefined until then.
   */
  #rootTraceId: string | undefined;

  constructor(
    sink: DirectSpanSink,
    item: ClaimedItemLike,
    traceparent: string,
    parentContext: Context,
    idsChecked = true,
  ) {
    this.#sink = sink;
    this.#parentContext = parentContext;
    this.#traceparent = traceparent;
    if (idsChecked) this.#rootTraceId = '';
    this.#base = baseAttrs('process', item.queue, item.workType);
    this.#queue = item.queue;
    this.#workType = item.workType;
    this.#workId = item.id;
    this.#attempt = item.attempts;
    this.#messageId = String(item.msgId);
    this.#lastAttempt = item.attempts >= item.maxAttempts;
    this.#start = nowMs();
  }

  // --- the worker's attempt scope -------------------------------------------------------------

  /** Calls `handler(...args)` with this attempt's span active. */
  run<A extends unknown[], R>(handler: (...args: A) => R, ...args: A): R {
    return otelContext.with(this, handler, undefined, ...args);
  }

  completed(): void {
    this.#finish('completed', 'completed', undefined);
  }

  failed(error: unknown): void {
    const dead = this.#lastAttempt || isPermanent(error);
    this.#finish(dead ? 'dead' : 'queued', dead ? 'dead' : 'retry', error);
  }

  #finish(to: AttemptEnd, outcome: string, error: unknown): void {
    if (this.#outcome !== '') return;
    try {
      const end = nowMs();
      this.#outcome = outcome;
      this.#lastEvent = RUNNING_TO[to];
      // A failure's exception and status need the whole span.
      const span = error === undefined ? this.#span : this.#materialize();
      recordWorkDurationOf((end - this.#start) / 1000, this.#queue, this.#workType, outcome);
      if (span === undefined) {
        this.#end = end;
        this.#sink.enqueue?.(this);
        return;
      }
      ownEvent(span, 'running', to);
      span.setAttribute(WorkAttr.outcome, outcome);
      if (error !== undefined) failSpan(span, error);
      span.end();
    } catch {
      // Telemetry never throws into callers.
    }
  }

  // --- the context the handler runs in -------------------------------------------------------

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this : this.#parentContext.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return trace.setSpan(this.#parentContext, this).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return trace.setSpan(this.#parentContext, this).deleteValue(key);
  }

  // --- the API span the handler sees ---------------------------------------------------------

  /**
   * The DirectSpan that takes over: the same parent, start, attributes and first event as the
   * lazy record. Made at most once, while the attempt runs.
   */
  #materialize(): Span {
    let span = this.#span;
    if (span !== undefined) return span;
    try {
      const base = this.#base;
      span = startDirectSpan(
        this.#sink,
        base.name,
        SpanKind.CONSUMER,
        this.#parentContext,
        readTraceParent({ traceparent: this.#traceparent }),
        base.attributes,
        base.count,
        this.#ownAttributes(),
        undefined,
        this.#start,
      );
      ownEvent(span, 'queued', 'running', this.#start);
    } catch {
      span = span0();
    }
    this.#span = span;
    return span;
  }

  /** The attempt's own attributes (see `writeOwnAttributes`). */
  #ownAttributes(into: Record<string, AttributeValue> = {}): Record<string, AttributeValue> {
    return writeOwnAttributes(into, this.#workId, this.#attempt, this.#messageId);
  }

  /** The span to act on: the one that took over, or, while running, a new one; none once ended. */
  #live(): Span | undefined {
    if (this.#span !== undefined) return this.#span;
    return this.#end === 0 ? this.#materialize() : undefined;
  }

  spanContext(): SpanContext {
    if (this.#span !== undefined) return this.#span.spanContext();
    if (this.#end === 0) return this.#materialize().spanContext();
    const root = this.#checkIds();
    return {
      traceId: root === '' ? this.#traceparent.slice(3, 35) : root,
      spanId: this.#ownSpanId(),
      traceFlags: TraceFlags.SAMPLED,
    };
  }

  /**
   * Checks the traceparent's ids, once: '' when they are valid (the attempt is their child),
   * else the attempt's own new trace id (a root span, as the handler's span would be: the W3C
   * propagator reads no parent from such a header, and the attempt began in a context without
   * a span).
   */
  #checkIds(): string {
    return (this.#rootTraceId ??= isSampledVersion00(this.#traceparent) ? '' : this.#sink.newTraceId());
  }

  #ownSpanId(): string {
    if (this.#spanId !== undefined) return this.#spanId;
    this.#makeId();
    return (this.#spanId = hex8(this.#idHi()) + hex8(this.#idLo()));
  }

  /** Makes the span id's halves, once (never all zeros, as the W3C format requires). */
  #makeId(): void {
    if (this.#id2 !== 0 || this.#id3 !== 0) return;
    const hi = (Math.random() * 2 ** 32) >>> 0;
    const lo = (Math.random() * 2 ** 32) >>> 0 || 1;
    this.#id0 = hi >>> 16;
    this.#id1 = hi & 0xffff;
    this.#id2 = lo >>> 16;
    this.#id3 = lo & 0xffff;
  }

  #idHi(): number {
    return this.#id0 * 0x10000 + this.#id1;
  }

  #idLo(): number {
    return this.#id2 * 0x10000 + this.#id3;
  }

  isRecording(): boolean {
    return this.#span !== undefined ? this.#span.isRecording() : this.#end === 0;
  }

  setAttribute(key: string, value: AttributeValue): this {
    this.#live()?.setAttribute(key, value);
    return this;
  }

  setAttributes(attributes: Attributes): this {
    this.#live()?.setAttributes(attributes);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    this.#live()?.addEvent(name, attributesOrTime, time);
    return this;
  }

  addLink(link: Link): this {
    this.#live()?.addLink(link);
    return this;
  }

  addLinks(links: Link[]): this {
    this.#live()?.addLinks(links);
    return this;
  }

  setStatus(status: SpanStatus): this {
    this.#live()?.setStatus(status);
    return this;
  }

  updateName(name: string): this {
    this.#live()?.updateName(name);
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    this.#live()?.recordException(exception, time);
  }

  /** Ending the attempt's span is the worker's job; a handler that ends it ends the span early. */
  end(endTime?: TimeInput): void {
    const span = this.#live();
    if (span !== undefined) span.end(endTime);
    else diag.error(`${this.#base.name} - You can only call end() on a span once.`);
  }

  // --- what the direct span queue's encoder reads ---------------------------------------------

  get resource(): unknown {
    return this.#sink.resource;
  }

  get instrumentationScope(): DirectSpanSink['scope'] {
    return this.#sink.scope;
  }

  /** The attempt's values, in the object shared by every lazy attempt (see `fillAttemptFields`). */
  #ended(hex: boolean): EndedAttempt {
    const a = ENDED;
    a.traceparent = this.#traceparent;
    // A record checks unchecked ids itself, from its bytes (see `writeRecord`).
    const unchecked = !hex && this.#rootTraceId === undefined;
    a.rootTraceId = unchecked ? '' : this.#checkIds();
    a.idsUnchecked = unchecked;
    if (hex) a.spanId = this.#ownSpanId();
    else {
      this.#makeId();
      a.spanId = '';
      a.spanIdHi = this.#idHi();
      a.spanIdLo = this.#idLo();
    }
    a.start = this.#start;
    a.end = this.#end;
    a.base = this.#base;
    a.workId = this.#workId;
    a.attempt = this.#attempt;
    a.messageId = this.#messageId;
    a.outcome = this.#outcome;
    a.firstEvent = QUEUED_RUNNING;
    a.lastEvent = this.#lastEvent;
    return a;
  }

  /**
   * The fields a DirectSpan of this attempt would hand over (see `fillAttemptFields`), in
   * objects shared by every lazy attempt: valid until the next attempt's `fillFields`.
   */
  fillFields(f: DirectSpanFields): void {
    fillAttemptFields(f, this.#ended(true));
  }

  /**
   * Appends the attempt's record (see `writeAttemptRecord`) for the export thread to encode;
   * false when it cannot be a record (then it is encoded here, through `fillFields`).
   */
  writeRecord(out: RecordBuffer, table: RecordTable): boolean {
    const a = this.#ended(false);
    const written = writeAttemptRecord(out, table, a);
    // Written with unchecked ids: the record found them valid.
    if (written && a.idsUnchecked) this.#rootTraceId = '';
    return written;
  }
}

/**
 * What the attempts of one batch share (see {@link startLazyAttempt}): the batch, the sink (none
 * when lazy attempts are not possible then) and the active context, from its first attempt until
 * the microtask after it (all of a batch's attempts start in one synchronous run).
 */
let shared: object | undefined;
let sharedSink: DirectSpanSink | undefined;
let sharedActive: Context | undefined;
/** Whether `sharedActive` has no span in it. */
let sharedSpanless = false;

/** Whether `forgetShared` is queued for the next microtask. */
let forgetting = false;

function forgetShared(): void {
  forgetting = false;
  shared = undefined;
  sharedSink = undefined;
  sharedActive = undefined;
  sharedSpanless = false;
}

/**
 * The lazy attempt for `item`, when the setup and its headers allow one (see the module
 * comment); `undefined` otherwise, for the caller to start a DirectSpan or SDK span instead.
 * `batch` (the worker's read, see the worker's `AttemptHook`): the sink and active context are
 * looked up once for all of its attempts.
 */
export function startLazyAttempt(
  item: ClaimedItemLike,
  batch?: readonly ClaimedItemLike[],
): LazyAttemptSpan | undefined {
  try {
    if (batch === undefined || batch !== shared) lookUpShared(batch);
    const sink = sharedSink;
    if (sink === undefined) return undefined;
    const headers = item.headers as Record<string, unknown> | null | undefined;
    if (typeof headers !== 'object' || headers === null) return undefined;
    const traceparent = headers.traceparent;
    // In a context without a span (a worker's loop), only the header's form is checked now, its
    // ids when the attempt is encoded (off the worker's dispatch): with ids that are not valid it
    // is the root span the handler's span would be. Under a span, an invalid parent would make
    // the attempt that span's child, sampled as it is: such an attempt is not lazy.
    const idsLater = sharedSpanless;
    if (!(idsLater ? isSampledVersion00Form(traceparent) : isSampledVersion00(traceparent))) return undefined;
    const state = headers.tracestate;
    if (typeof state === 'string' && state !== '') return undefined;
    return new LazyAttemptSpan(sink, item, traceparent as string, sharedActive!, !idsLater);
  } catch {
    // Telemetry never throws into the worker: the caller records the attempt the other way.
    return undefined;
  }
}

/**
 * Looks up the sink (none when lazy attempts are not possible now) and the active context into
 * `sharedSink` and `sharedActive`, kept for `batch`'s other attempts (if given) until the next
 * microtask, when they are let go.
 */
function lookUpShared(batch: readonly ClaimedItemLike[] | undefined): void {
  let sink = directSpanSink();
  let active: Context | undefined;
  if (sink?.enqueue === undefined || !keyMatches || !sink.w3cPropagation || sink.sampler !== undefined)
    sink = undefined;
  else {
    active = otelContext.active();
    if (sink.suppressed(active)) sink = undefined;
  }
  if (!forgetting) {
    forgetting = true;
    queueMicrotask(forgetShared);
  }
  shared = batch;
  sharedSink = sink;
  sharedActive = active;
  sharedSpanless = active !== undefined && trace.getSpan(active) === undefined;
}
