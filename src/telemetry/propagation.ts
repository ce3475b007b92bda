// Trace context in pgmq message headers. The W3C `traceparent`/`tracestate` pair is always
// written and read with an explicit W3C propagator, because with no SDK installed the API's
// global propagator is a no-op; the global one runs too, so an application's extra fields
// (baggage, say) travel along. Malformed headers yield the root context, never an error.
import { context as otelContext, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Context, TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const w3c = new W3CTraceContextPropagator();

/** Message headers as stored by pgmq (a JSON object); values that are not strings are ignored. */
export type MessageHeaders = Record<string, string>;

/** Writes the trace context of `ctx` (default: active) into a new headers object. Never throws. */
export function injectTraceHeaders(ctx: Context = otelContext.active()): MessageHeaders {
  const headers: MessageHeaders = {};
  try {
    propagation.inject(ctx, headers);
    w3c.inject(ctx, headers, {
      set: (carrier, key, value) => {
        carrier[key] = value;
      },
    });
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
    return w3c.extract(withGlobal, carrier, getter);
  } catch {
    return base;
  }
}
