// Retry back-off: exponential in the attempt number, capped, with full jitter so that a
// burst of failures does not come back as a burst.

/** Back-off settings. */
export interface BackoffOptions {
  /** Delay after the first failure, in seconds. Default 1. */
  baseSeconds?: number;
  /** Upper bound, in seconds. Default 3600. */
  maxSeconds?: number;
  /** Source of randomness in [0, 1) (tests pin it). Default Math.random. */
  random?: () => number;
}

/** Seconds to hide an item after its `attempt`-th failure (attempt ≥ 1). */
export function backoffSeconds(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseSeconds ?? 1;
  const max = options.maxSeconds ?? 3600;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  // "Equal jitter": half fixed, half random, so a retry never comes back immediately.
  return Math.max(0, Math.round(ceiling / 2 + random() * (ceiling / 2)));
}
