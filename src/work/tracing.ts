// Hooks through which telemetry sees the work lifecycle. The work module calls them; the
// telemetry module provides the real ones. Hooks must never throw into the work path.
import type { NormalisedItem } from './validate.js';
import type { SubmitResult } from './types.js';

/** A PRODUCER span around one submit. */
export interface SubmitSpan {
  /** Message headers to send with the item (`traceparent`, `tracestate`). */
  readonly headers: Record<string, string>;
  end(result: SubmitResult): void;
  fail(error: unknown): void;
}

/** What the work module reports to telemetry. */
export interface WorkTracing {
  submit(item: NormalisedItem): SubmitSpan;
  /** `count` lifecycle changes (default 1) of items of `workType`: a batch reports each work type once. */
  transition(from: string, to: string, workType: string, count?: number): void;
}

/**
 * Reports the change `from → to` of every item in `items` that has a work type (`typeOf`), one
 * call for each run of items of the same work type.
 */
export function reportTransitions<T>(
  tracing: WorkTracing,
  from: string,
  to: string,
  items: readonly T[],
  typeOf: (item: T) => string | undefined,
): void {
  let type: string | undefined;
  let n = 0;
  for (const item of items) {
    const t = typeOf(item);
    if (t === type) {
      n++;
      continue;
    }
    if (type !== undefined) tracing.transition(from, to, type, n);
    type = t;
    n = 1;
  }
  if (type !== undefined) tracing.transition(from, to, type, n);
}

const noopSpan: SubmitSpan = { headers: {}, end() {}, fail() {} };

/** Tracing that records nothing. */
export const noopWorkTracing: WorkTracing = {
  submit: () => noopSpan,
  transition() {},
};
