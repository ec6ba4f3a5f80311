import { defineConfig } from 'vitest/config'

/**
 * Tests whose assertions need the gateway to keep up (takeover within the lease TTL + 3 s, event-loop delay under
 * attack) while they load both cores with gateways, Redis and MongoDB: they run one at a time. `npm test`
 * (test/setup/run.ts) runs them, then the browser tests, beside the other projects; a plain `vitest run`, after them.
 */
const ALONE = ['test/e2e/cluster-*.test.ts', 'test/security/noisy-neighbour.test.ts']
/** Bundles the gateway and the embedded server once: the processes these tests spawn start from it. */
const BUILD = ['test/setup/build.ts']

export default defineConfig({
  // One graphql instance: Node resolves `graphql` to its CommonJS build, so tests must too.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    // Two test files at a time (the default on 2 cores is one): most of them wait on sockets and timers.
    poolOptions: { forks: { maxForks: 2 } },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'test/security/**/*.test.ts'],
          exclude: ALONE,
          globalSetup: BUILD,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'alone',
          include: ALONE,
          globalSetup: BUILD,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        extends: true,
        test: {
          // Real headless Chromium (/usr/bin/chromium) against a gateway in the test process.
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
})
