// Trace context in pgmq message headers. The W3C `traceparent`/`tracestate` pair is always
// written and read, with an explicit W3C propagator when the global one did not (with no SDK
// installed the API's global propagator is a no-op); the global one runs first, so an
// application's extra fields (baggage, say) travel along. Malformed headers yield the root
// context, never an error.
import { context as otelContext, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, SpanContext, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { parseTraceParent, TraceState, W3CTraceContextPropagator } from '@opentelemetry/core';

const w3c = new W3CTraceContextPropagator();

/** Message headers as stored by pgmq (a JSON object); values that are not strings are ignored. */
export type MessageHeaders = Record<string, string>;

const setter: TextMapSetter<MessageHeaders> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Writes the trace context of `ctx` (default: active) into a new headers object. Never throws. */
export function injectTraceHeaders(ctx: Context = otelContext.active()): MessageHeaders {
  const headers: MessageHeaders = {};
  try {
    propagation.inject(ctx, headers);
    // The usual global propagator (the SDK's W3C trace context + baggage) has written it already.
    if (headers.traceparent === undefined) w3c.inject(ctx, headers, setter);
  } catch {
    // Headers are an aid to tracing; a message is sent without them rather than not at all.
  }
  return headers;
}

const getter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key] ?? carrier[key.toLowerCase()];
    return typeof v === 'string' ? v : undefined;
  },
};

/**
 * Reads a trace context from message headers (any JSON value; `null` and non-objects give
 * `base`). Never throws.
 */
export function extractTraceContext(headers: unknown, base: Context = ROOT_CONTEXT): Context {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return base;
  try {
    const carrier = headers as Record<string, unknown>;
    const withGlobal = propagation.extract(base, carrier, getter);
    // Only when the global propagator found no span context: the W3C reading is the same one.
    if (trace.getSpanContext(withGlobal) !== trace.getSpanContext(base)) return withGlobal;
    return w3c.extract(withGlobal, carrier, getter);
  } catch {
    return base;
  }
}

/**
 * The W3C `traceparent` (and `tracestate`) of message headers as a remote span context, read
 * the way the W3C propagator reads them but without building a context; `undefined` when
 * absent or malformed. For callers that know the trace context travels as W3C headers (the
 * direct work spans, under animus's own SDK setup). Never throws.
 */
export function readTraceParent(headers: unknown): SpanContext | undefined {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return undefined;
  try {
    const carrier = headers as Record<string, unknown>;
    const parent = carrier.traceparent;
    if (typeof parent !== 'string') return undefined;
    let context: SpanContext | undefined = parseVersion00(parent);
    if (context === undefined) {
      const parsed = parseTraceParent(parent);
      if (parsed === null) return undefined;
      context = {
        traceId: parsed.traceId,
        spanId: parsed.spanId,
        traceFlags: parsed.traceFlags,
        isRemote: true,
      };
    }
    const state = carrier.tracestate;
    if (typeof state === 'string' && state !== '') context.traceState = new TraceState(state);
    return context;
  } catch {
    return undefined;
  }
}

const isLowerHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 97 && c <= 102);

/** 1 for the code units of lowercase hex digits, 0 for the others below 128. */
const LOWER_HEX = Uint8Array.from({ length: 128 }, (_, c) => (isLowerHex(c) ? 1 : 0));

/**
 * Whether `s[from, to)` is lowercase hex, not all zeros: one pass without branches on the
 * characters (half the time of comparing each, measured on traceparents).
 */
function nonZeroHex(s: string, from: number, to: number): boolean {
  let hex = 1;
  let bits = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    hex &= c < 128 ? LOWER_HEX[c]! : 0;
    bits |= c ^ 48;
  }
  return hex === 1 && bits !== 0;
}

/**
 * Whether `s` has the form of a version-00 `traceparent`: exactly 55 characters, `00-`, dashes
 * where the ids end, two lowercase hex digits of flags (the 48 digits of its ids not looked at).
 */
function hasVersion00Form(s: string): boolean {
  return (
    s.length === 55 &&
    s.charCodeAt(0) === 48 &&
    s.charCodeAt(1) === 48 &&
    s.charCodeAt(2) === 45 &&
    s.charCodeAt(35) === 45 &&
    s.charCodeAt(52) === 45 &&
    isLowerHex(s.charCodeAt(53)) &&
    isLowerHex(s.charCodeAt(54))
  );
}

/**
 * Whether `s` is the common `traceparent`: version 00, exactly 55 characters, no surrounding
 * space, lowercase hex ids that are not all zeros, two hex digits of flags.
 */
function isVersion00(s: string): boolean {
  return hasVersion00Form(s) && nonZeroHex(s, 3, 35) && nonZeroHex(s, 36, 52);
}

/**
 * Whether a version-00 traceparent's flags have the sampled bit: the low bit of the last digit
 * ('1' is 49, 'b' is 98: odd digits).
 */
const isSampledFlags = (s: string): boolean => (s.charCodeAt(54) & 1) === (s.charCodeAt(54) <= 57 ? 1 : 0);

/**
 * The common `traceparent` ({@link isVersion00}) read without the general pattern, as a remote
 * span context; `undefined` for anything else, which then goes to the W3C propagator's own
 * parser.
 */
function parseVersion00(s: string): SpanContext | undefined {
  if (!isVersion00(s)) return undefined;
  return {
    traceId: s.slice(3, 35),
    spanId: s.slice(36, 52),
    traceFlags: parseInt(s.slice(53, 55), 16),
    isRemote: true,
  };
}

/**
 * Whether `s` is a `traceparent` that {@link readTraceParent} reads as a sampled remote parent
 * through its version-00 fast path; checked without building anything.
 */
export function isSampledVersion00(s: unknown): s is string {
  return typeof s === 'string' && isVersion00(s) && isSampledFlags(s);
}

/**
 * Whether `s` has the form of a sampled version-00 `traceparent` ({@link isSampledVersion00}
 * without looking at the 48 digits of its ids): 55 characters, `00-`, dashes where the ids end,
 * two lowercase hex digits of flags with the sampled bit set. For a caller that checks the ids
 * later, before it relies on them.
 */
export function isSampledVersion00Form(s: unknown): s is string {
  return typeof s === 'string' && hasVersion00Form(s) && isSampledFlags(s);
}

/**
 * The W3C `traceparent` (and `tracestate`) for a span context, as the W3C propagator writes
 * them; empty for an invalid context (`valid`: the caller made the ids and knows they are
 * valid). For callers that know no other propagator adds fields.
 */
export function w3cTraceHeaders(spanContext: SpanContext, valid = false): MessageHeaders {
  if (!valid && !trace.isSpanContextValid(spanContext)) return {};
  const flags = `0${(spanContext.traceFlags || 0).toString(16)}`;
  const headers: MessageHeaders = {
    traceparent: `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`,
  };
  if (spanContext.traceState) headers.tracestate = spanContext.traceState.serialize();
  return headers;
}
