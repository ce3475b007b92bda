// Work spans recorded without the SDK's tracer. When animus's own setup (`initTelemetry`) owns
// the trace pipeline and leaves the span limits at their defaults, a work span is a small object
// that is both the API `Span` the handler's code sees and the `ReadableSpan` the span processors
// and exporters read; it goes to that setup's span processors at start and at end, so sampling
// (the SDK's own sampler, asked as its tracer asks it), batching, export, resource and scope stay
// the SDK's. What it saves is the tracer's per-span work: attributes sanitised twice and copied
// per call, hrtime pairs for every timestamp, event objects built on the work path. Exporters see
// the same fields an SDK span has (built once, when first read). Span limits from the
// environment, or an application's own SDK, take the SDK tracer as before.
import { performance as perf } from 'node:perf_hooks';
import { diag, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import type {
  Attributes,
  AttributeValue,
  Context,
  Exception,
  HrTime,
  Link,
  Span,
  SpanContext,
  SpanKind,
  SpanStatus,
  TimeInput,
} from '@opentelemetry/api';
import {
  hrTimeDuration,
  isAttributeValue,
  isTimeInput,
  millisToHrTime,
  sanitizeAttributes,
  timeInputToHrTime,
} from '@opentelemetry/core';
import type { DirectSpanFields, EncodableSpan } from './direct-span-encoder.js';
import { EXCEPTION_EVENT, ExceptionAttr } from './names.js';

/** The part of an SDK span processor a direct span needs. */
export interface DirectSpanProcessor {
  onStart(span: never, parentContext: Context): void;
  onEnd(span: never): void;
}

/** What `initTelemetry` hands over when direct work spans may be used. */
export interface DirectSpanSink {
  /** The tracer provider the pipeline belongs to: direct spans only while it is the global one. */
  readonly provider: object;
  /** The SDK's resource and animus's instrumentation scope, as its own spans carry them. */
  readonly resource: unknown;
  readonly scope: { name: string; version?: string; schemaUrl?: string };
  /**
   * The SDK's sampler when it is not the default (`parentbased_always_on`); asked about every
   * span as the SDK's tracer asks it. Without one, children follow the parent's sampled flag
   * and new roots are recorded.
   */
  readonly sampler?: DirectSampler;
  /** The global propagator reads trace context from W3C `traceparent`/`tracestate` only. */
  readonly w3cPropagation: boolean;
  readonly processors: readonly DirectSpanProcessor[];
  /**
   * Where an ended span that is known to be sampled goes when the processors are only the
   * direct span queue (attempt-span.ts records attempts lazily then); else undefined.
   */
  readonly enqueue?: (span: EncodableSpan) => void;
  /** 32 and 16 lowercase hex digits, not all zero (the SDK's id generator). */
  newTraceId(): string;
  newSpanId(): string;
  /** The SDK's `isTracingSuppressed`. */
  suppressed(context: Context): boolean;
}

/** The part of an SDK `Sampler` direct spans use. */
export interface DirectSampler {
  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): { decision: number; attributes?: Attributes; traceState?: SpanContext['traceState'] };
}

// SamplingDecision of the SDK: NOT_RECORD 0, RECORD 1, RECORD_AND_SAMPLED 2.
const NOT_RECORD = 0;
const RECORD_AND_SAMPLED = 2;

let current: DirectSpanSink | undefined;

/** Installs (or, with `undefined`, removes) the sink; `initTelemetry` and its shutdown call it. */
export function setDirectSpanSink(sink: DirectSpanSink | undefined): void {
  current = sink;
}

/** The sink, if one is installed and its provider is still the global tracer provider. */
export function directSpanSink(): DirectSpanSink | undefined {
  const sink = current;
  if (sink === undefined) return undefined;
  const global = trace.getTracerProvider() as { getDelegate?: () => unknown };
  const provider = typeof global.getDelegate === 'function' ? global.getDelegate() : global;
  return provider === sink.provider ? sink : undefined;
}

// The SDK's default span limits, which direct spans apply (they are used only when no
// OTEL_*_LIMIT variable is set); the value length limit is unlimited by default.
const ATTRIBUTE_COUNT_LIMIT = 128;
const EVENT_COUNT_LIMIT = 128;
const LINK_COUNT_LIMIT = 128;
const ATTRIBUTES_PER_EVENT_LIMIT = 128;
const ATTRIBUTES_PER_LINK_LIMIT = 128;

// perf_hooks' own `performance`: the global one is a lazy getter of Node's, which costs about as
// much again as `now()` on every read (seen in profiles of the attempt path).
const timeOrigin = perf.timeOrigin;
/** Now in epoch milliseconds, on the clock of `performance.now()` (as the SDK's spans). */
export const nowMs = (): number => timeOrigin + perf.now();
const EMPTY: Attributes = Object.freeze({});
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const INVALID: SpanContext = Object.freeze({
  traceId: '0'.repeat(32),
  spanId: '0'.repeat(16),
  traceFlags: 0,
});

/** Copies at most `limit` attributes of an already sanitised object; returns the dropped count. */
function limited(sanitized: Attributes, limit: number): { attributes: Attributes; dropped: number } {
  let count = 0;
  let dropped = 0;
  const attributes: Attributes = {};
  for (const key in sanitized) {
    if (!Object.prototype.hasOwnProperty.call(sanitized, key)) continue;
    if (count >= limit) {
      dropped++;
      continue;
    }
    attributes[key] = sanitized[key];
    count++;
  }
  return { attributes, dropped };
}

/** What exporters read of a direct span, built once it has ended. */
interface ReadableView {
  attributes: Attributes;
  events: TimedEvent[];
  startTime: HrTime;
  endTime: HrTime;
}

/** The event as exporters read it (`TimedEvent`). */
interface TimedEvent {
  name: string;
  time: HrTime;
  attributes: Attributes;
  droppedAttributesCount: number;
}

const toHrTime = (at: number | HrTime): HrTime => (typeof at === 'number' ? millisToHrTime(at) : at);
const NO_LINKS: Link[] = Object.freeze([]) as unknown as Link[];

/**
 * A recording span for animus's work spans (see the module comment). `base` is a shared,
 * frozen set of attributes (the span's constant ones); `own` holds the rest and is this span's.
 */
export class DirectSpan implements Span {
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly resource: unknown;
  readonly instrumentationScope: DirectSpanSink['scope'];
  #name: string;
  readonly #context: SpanContext;
  readonly #processors: readonly DirectSpanProcessor[];
  readonly #base: Attributes;
  readonly #own: Attributes;
  #count: number;
  /** Whether `own` sets a key of `base` (then the merged set is what is exported). */
  #overrides = false;
  #droppedAttributes = 0;
  /** Events, four entries each: name, time (epoch ms or the caller's HrTime), attributes, dropped. */
  readonly #events: unknown[] = [];
  #droppedEvents = 0;
  #links: Link[] | undefined;
  #droppedLinks = 0;
  #status: SpanStatus = UNSET;
  readonly #start: number;
  #end: number | HrTime | undefined;
  #read: ReadableView | undefined;

  constructor(
    sink: DirectSpanSink,
    name: string,
    kind: SpanKind,
    context: SpanContext,
    parent: SpanContext | undefined,
    base: Attributes,
    baseCount: number,
    own: Attributes,
    links: Link[] | undefined,
    startTime: number = nowMs(),
  ) {
    this.#name = name;
    this.kind = kind;
    this.#context = context;
    this.parentSpanContext = parent;
    this.resource = sink.resource;
    this.instrumentationScope = sink.scope;
    this.#processors = sink.processors;
    this.#base = base;
    this.#own = own;
    let count = baseCount;
    for (const key in own) {
      if (key in base) this.#overrides = true;
      else count++;
    }
    this.#count = count;
    this.#links = links;
    this.#start = startTime;
  }

  // --- the API `Span` ----------------------------------------------------------------------

  spanContext(): SpanContext {
    return this.#context;
  }

  isRecording(): boolean {
    return this.#end === undefined;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (value == null || this.#end !== undefined) return this;
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      return this;
    }
    if (!isAttributeValue(value)) {
      diag.warn(`Invalid attribute value set for key: ${key}`);
      return this;
    }
    const inBase = key in this.#base;
    const isNew = !inBase && !Object.prototype.hasOwnProperty.call(this.#own, key);
    if (isNew && this.#count >= ATTRIBUTE_COUNT_LIMIT) {
      this.#droppedAttributes++;
      return this;
    }
    if (inBase) this.#overrides = true;
    this.#own[key] = value;
    if (isNew) this.#count++;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes)
      if (Object.prototype.hasOwnProperty.call(attributes, key)) this.setAttribute(key, attributes[key]!);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.#end !== undefined) return this;
    let attributes: unknown = attributesOrTime;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
      attributes = undefined;
    }
    const { attributes: kept, dropped } = limited(sanitizeAttributes(attributes), ATTRIBUTES_PER_EVENT_LIMIT);
    this.#pushEvent(name, time === undefined ? nowMs() : timeInputToHrTime(time), kept, dropped);
    return this;
  }

  /**
   * animus's own events: `attributes` are valid and within the limits already (frozen objects
   * shared between spans), so they are kept as they are.
   */
  addTrustedEvent(name: string, attributes: Attributes, time: number = nowMs()): void {
    if (this.#end !== undefined) return;
    this.#pushEvent(name, time, attributes, 0);
  }

  #pushEvent(name: string, at: number | HrTime, attributes: Attributes, dropped: number): void {
    const events = this.#events;
    if (events.length >= EVENT_COUNT_LIMIT * 4) {
      events.splice(0, 4);
      this.#droppedEvents++;
    }
    events.push(name, at, attributes, dropped);
  }

  addLink(link: Link): this {
    if (this.#end !== undefined) return this;
    const links = (this.#links ??= []);
    if (links.length >= LINK_COUNT_LIMIT) {
      links.shift();
      this.#droppedLinks++;
    }
    const { attributes, dropped } = limited(sanitizeAttributes(link.attributes), ATTRIBUTES_PER_LINK_LIMIT);
    const kept: Link = { context: link.context };
    if (Object.keys(attributes).length > 0) kept.attributes = attributes;
    if (dropped > 0) kept.droppedAttributesCount = dropped;
    links.push(kept);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.#end !== undefined || status.code === SpanStatusCode.UNSET) return this;
    if (this.#status.code === SpanStatusCode.OK) return this;
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR) {
      if (typeof status.message === 'string') next.message = status.message;
      else if (status.message != null)
        diag.warn(`Dropping invalid status.message of type '${typeof status.message}', expected 'string'`);
    }
    this.#status = next;
    return this;
  }

  updateName(name: string): this {
    if (this.#end === undefined) this.#name = name;
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes[ExceptionAttr.message] = exception;
    else if (exception) {
      if (exception.code) attributes[ExceptionAttr.type] = exception.code.toString();
      else if (exception.name) attributes[ExceptionAttr.type] = exception.name;
      if (exception.message) attributes[ExceptionAttr.message] = exception.message;
      if (exception.stack) attributes[ExceptionAttr.stacktrace] = exception.stack;
    }
    if (attributes[ExceptionAttr.type] || attributes[ExceptionAttr.message])
      this.addEvent(EXCEPTION_EVENT, attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }

  end(endTime?: TimeInput): void {
    if (this.#end !== undefined) {
      diag.error(
        `${this.#name} ${this.#context.traceId}-${this.#context.spanId} - You can only call end() on a span once.`,
      );
      return;
    }
    this.#end = endTime === undefined ? nowMs() : timeInputToHrTime(endTime);
    for (const p of this.#processors) p.onEnd(this as never);
  }

  // --- what span processors and exporters read (`ReadableSpan`) ------------------------------

  get name(): string {
    return this.#name;
  }

  get ended(): boolean {
    return this.#end !== undefined;
  }

  get status(): SpanStatus {
    return this.#status;
  }

  get links(): Link[] {
    return this.#links ?? NO_LINKS;
  }

  get droppedAttributesCount(): number {
    return this.#droppedAttributes;
  }

  get droppedEventsCount(): number {
    return this.#droppedEvents;
  }

  get droppedLinksCount(): number {
    return this.#droppedLinks;
  }

  get attributes(): Attributes {
    return this.#readable().attributes;
  }

  get events(): TimedEvent[] {
    return this.#readable().events;
  }

  get startTime(): HrTime {
    return this.#readable().startTime;
  }

  get endTime(): HrTime {
    return this.#readable().endTime;
  }

  get duration(): HrTime {
    const { startTime, endTime } = this.#readable();
    const duration = hrTimeDuration(startTime, endTime);
    return duration[0] < 0 ? [0, 0] : duration;
  }

  /** The exporter's view, built on first read after the end (before it, built afresh). */
  /** Start and end as exporters read them (before the end: `[0, 0]` for the end). */
  #times(): { startTime: HrTime; endTime: HrTime } {
    const startTime = millisToHrTime(this.#start);
    if (this.#end === undefined) return { startTime, endTime: [0, 0] };
    const endTime = toHrTime(this.#end);
    // An end before the start: the SDK keeps the start time and a zero duration.
    return { startTime, endTime: hrTimeDuration(startTime, endTime)[0] < 0 ? startTime : endTime };
  }

  #readable(): ReadableView {
    if (this.#read !== undefined) return this.#read;
    const { startTime, endTime } = this.#times();
    const view: ReadableView = {
      attributes: this.#base === EMPTY ? { ...this.#own } : { ...this.#base, ...this.#own },
      events: [],
      startTime,
      endTime,
    };
    const ev = this.#events;
    for (let i = 0; i < ev.length; i += 4)
      view.events.push({
        name: ev[i] as string,
        time: toHrTime(ev[i + 1] as number | HrTime),
        attributes: ev[i + 2] as Attributes,
        droppedAttributesCount: ev[i + 3] as number,
      });
    if (this.#end !== undefined) this.#read = view;
    return view;
  }

  /** Puts the span's fields into `fields` for the OTLP encoder (direct-span-encoder.ts). */
  fillFields(fields: DirectSpanFields): void {
    // A set attribute that overrides a constant one: the merged set, as exporters read it.
    const overridden = this.#overrides;
    fields.context = this.#context;
    fields.parent = this.parentSpanContext;
    fields.name = this.#name;
    fields.kind = this.kind;
    // Epoch ms as they are (the encoder reads them as millisToHrTime does); an end before the
    // start is the start, as in `#times`.
    const end = this.#end;
    if (end === undefined) {
      fields.startTime = this.#start;
      fields.endTime = [0, 0];
    } else if (typeof end === 'number') {
      fields.startTime = this.#start;
      fields.endTime = end < this.#start ? this.#start : end;
    } else {
      const { startTime, endTime } = this.#times();
      fields.startTime = startTime;
      fields.endTime = endTime;
    }
    fields.base = overridden ? EMPTY : this.#base;
    fields.own = overridden ? { ...this.#base, ...this.#own } : this.#own;
    fields.droppedAttributes = this.#droppedAttributes;
    fields.events = this.#events;
    fields.droppedEvents = this.#droppedEvents;
    fields.links = this.#links ?? NO_LINKS;
    fields.droppedLinks = this.#droppedLinks;
    fields.status = this.#status;
  }
}

/**
 * Starts a direct span. Its parent is `parent` when given (a span context already checked as
 * valid, e.g. read from message headers), else the span active in `context`. It follows the
 * sink's sampler as the SDK's tracer does: a span the sampler drops is a non-recording span
 * that carries the context on (flags unsampled); one it records but does not sample is
 * recorded with unsampled flags (the batch processor then leaves it out). Without a sampler of
 * its own the sink applies the default, parent-based always-on. A context with tracing
 * suppressed gets the invalid span. The processors' `onStart` gets `context`. `startTime`
 * (epoch ms) is the span's start when it began earlier than this call (default: now).
 */
export function startDirectSpan(
  sink: DirectSpanSink,
  name: string,
  kind: SpanKind,
  context: Context,
  parent: SpanContext | undefined,
  base: Attributes,
  baseCount: number,
  own: Attributes,
  links?: Link[],
  startTime?: number,
): Span {
  if (sink.suppressed(context)) return trace.wrapSpanContext(INVALID);
  let parentContext = parent;
  if (parentContext === undefined) {
    const active = trace.getSpanContext(context);
    if (active !== undefined && trace.isSpanContextValid(active)) parentContext = active;
  }
  // The span id first, then (for a root) the trace id: the SDK tracer's order.
  const spanId = sink.newSpanId();
  const traceId = parentContext === undefined ? sink.newTraceId() : parentContext.traceId;
  let traceState = parentContext?.traceState;
  const kept = links?.map((l) => ({ context: l.context, attributes: sanitizeAttributes(l.attributes) }));
  let record = true;
  let sampled: boolean;
  let spanOwn = own;
  if (sink.sampler === undefined) {
    sampled = parentContext === undefined || (parentContext.traceFlags & TraceFlags.SAMPLED) !== 0;
    record = sampled;
  } else {
    // As the SDK's tracer asks its sampler: the parent in the context, the initial attributes.
    const samplerContext = parent === undefined ? context : trace.setSpanContext(context, parent);
    const result = sink.sampler.shouldSample(
      samplerContext,
      traceId,
      name,
      kind,
      base === EMPTY ? { ...own } : { ...base, ...own },
      kept ?? [],
    );
    record = result.decision !== NOT_RECORD;
    sampled = result.decision === RECORD_AND_SAMPLED;
    traceState = result.traceState ?? traceState;
    if (result.attributes !== undefined && Object.keys(result.attributes).length > 0)
      spanOwn = { ...own, ...sanitizeAttributes(result.attributes) };
  }
  const traceFlags = sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
  const spanContext: SpanContext =
    traceState === undefined ? { traceId, spanId, traceFlags } : { traceId, spanId, traceFlags, traceState };
  if (!record) return trace.wrapSpanContext(spanContext);
  // Links given at the start are kept as the SDK's tracer keeps them: attributes sanitised,
  // `{}` if none.
  const span = new DirectSpan(
    sink,
    name,
    kind,
    spanContext,
    parentContext,
    base,
    baseCount,
    spanOwn,
    kept,
    startTime,
  );
  for (const p of sink.processors) p.onStart(span as never, context);
  return span;
}

/** Marks `base` attribute sets: one frozen object shared by many spans, and its key count. */
export function frozenAttributes(attributes: Attributes): { attributes: Attributes; count: number } {
  return { attributes: Object.freeze({ ...attributes }), count: Object.keys(attributes).length };
}
