// Loading the user's handler module (ANIMUS_HANDLERS_MODULE): a good module gives its
// handlers; a missing file or a non-function handler is a ConfigError naming the variable.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';
import { loadHandlersModule } from '../../src/service/service.js';

const fixtures = join(import.meta.dirname, 'fixtures');

async function configError(path: string): Promise<ConfigError> {
  const err = await loadHandlersModule(path).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).variable).toBe('ANIMUS_HANDLERS_MODULE');
  return err as ConfigError;
}

describe('loadHandlersModule', () => {
  it('loads `export const handlers` from a path', async () => {
    const handlers = await loadHandlersModule(join(fixtures, 'slow-handlers.mjs'));
    expect(Object.keys(handlers)).toEqual(['test.slow']);
    expect(typeof handlers['test.slow']).toBe('function');
  });

  it('a missing module is a ConfigError naming the path', async () => {
    const err = await configError(join(fixtures, 'nope.mjs'));
    expect(err.message).toContain('nope.mjs');
  });

  it('a handler that is not a function is named', async () => {
    const err = await configError(join(fixtures, 'bad-handlers.mjs'));
    expect(err.message).toContain("'broken.type'");
  });

  it('a module without handlers says what it must export', async () => {
    const err = await configError(join(fixtures, '..', 'support.ts'));
    expect(err.message).toContain('must export `handlers`');
  });
});
