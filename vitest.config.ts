import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/test/**/*.test.ts"],
    // test/cluster/* needs the Redis Cluster of vitest.cluster.config.ts.
    exclude: ["**/node_modules/**", "**/dist/**", "test/cluster/**"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two cores: the end-to-end files start several processes each; more files at once only thrash.
    maxWorkers: 2,
  },
});
