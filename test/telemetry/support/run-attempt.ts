// Drives telemetry's worker `attempt` hook the way the worker does (`run`, then `completed` or
// `failed`), for tests that exercise one attempt without a worker.
import { traceWorkAttempts } from '../../../src/telemetry/index.js';
import type { ClaimedItemLike } from '../../../src/telemetry/index.js';

export async function runAttempt<T>(item: ClaimedItemLike, handler: () => Promise<T>): Promise<T> {
  const attempt = traceWorkAttempts(item);
  let result: T;
  try {
    result = await attempt.run(handler);
  } catch (error) {
    attempt.failed(error);
    throw error;
  }
  attempt.completed();
  return result;
}
