import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file gets its own database; files run in parallel on separate workers.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    allowOnly: false,
    reporters: ['default'],
    globalSetup: ['test/support/global-setup.ts'],
  },
});
