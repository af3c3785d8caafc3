import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // A page under test on a loaded 2-core machine can take seconds to settle: expect.poll waits up
    // to 30 s (the default 1 s failed Chromium tests whenever OCR ran beside them).
    expect: { poll: { timeout: 30_000, interval: 100 } },
    // Two cores: OCR and Meilisearch suites each want a core of their own.
    maxWorkers: 2,
    pool: 'forks',
    reporters: ['default'],
  },
});
