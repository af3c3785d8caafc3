import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Two cores: OCR and Meilisearch suites each want a core of their own.
    maxWorkers: 2,
    pool: 'forks',
    reporters: ['default'],
  },
});
