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
  transition(from: string, to: string, workType: string): void;
}

const noopSpan: SubmitSpan = { headers: {}, end() {}, fail() {} };

/** Tracing that records nothing. */
export const noopWorkTracing: WorkTracing = {
  submit: () => noopSpan,
  transition() {},
};
