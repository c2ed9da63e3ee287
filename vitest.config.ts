import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts', 'functions/**/*.test.ts', 'shared/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: more workers only add contention on the shared Postgres and S3 servers.
    maxWorkers: 2,
    env: { NODE_OPTIONS: '--openssl-legacy-provider' },
  },
});
