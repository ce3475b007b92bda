// One resource for a test file or `describe` block: opened before its tests, closed after them.
import { afterAll, beforeAll } from 'vitest';

/**
 * Opens the resource with `open` in `beforeAll` and closes it in `afterAll`; returns the function
 * that gives it inside tests (before `beforeAll` has run it throws, saying `what` it is waiting for).
 */
export function beforeAllResource<T extends { close(): Promise<void> }>(
  what: string,
  open: () => Promise<T>,
): () => T {
  let resource: T | undefined;
  beforeAll(async () => {
    resource = await open();
  });
  afterAll(async () => {
    await resource?.close();
  });
  return () => {
    if (resource === undefined) throw new Error(`${what} is opened in beforeAll`);
    return resource;
  };
}
