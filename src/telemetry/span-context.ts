// A context with one span set on a parent context, for the hot work-span paths. The API's
// `trace.setSpan` builds a `BaseContext`: a copy of the parent's map and three closures per
// call. `withSpan` gives an object that answers `getValue` for the span key itself and asks the
// parent for every other key; `setValue`/`deleteValue` fall back to the API's own contexts, so
// what a caller builds on top of it is an ordinary context.
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';

// The API keys its span entry with `Symbol.for('OpenTelemetry Context Key SPAN')` so that
// several API copies agree on it; checked once here, and without a match every call goes
// through `trace.setSpan`.
export const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
/** Whether the API in use keys its span entry with {@link SPAN_KEY}. */
export const keyMatches = ((): boolean => {
  try {
    const probe = trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 0 });
    return trace.setSpan(ROOT_CONTEXT, probe).getValue(SPAN_KEY) === probe;
  } catch {
    return false;
  }
})();

class SpanInContext implements Context {
  readonly #parent: Context;
  readonly #span: Span;

  constructor(parent: Context, span: Span) {
    this.#parent = parent;
    this.#span = span;
  }

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.#span : this.#parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return trace.setSpan(this.#parent, this.#span).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return trace.setSpan(this.#parent, this.#span).deleteValue(key);
  }
}

/** `parent` with `span` as its active span: the same answers as `trace.setSpan(parent, span)`. */
export function withSpan(parent: Context, span: Span): Context {
  return keyMatches ? new SpanInContext(parent, span) : trace.setSpan(parent, span);
}
