// The cluster run: the FCFS, CODE and DIRECT batch integration tests again, unchanged, against a
// three-master Redis Cluster that test/cluster-setup.ts starts for the run, plus the test that
// proves the keys really spread over the masters. Tests that start their own redis-server or
// FLUSHALL the shared one stay in the main run only.
import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

export default defineConfig({
  test: {
    ...base.test,
    include: ["test/e2e/stampede.test.ts", "test/e2e/direct-batches.test.ts", "apps/gateway/test/issue.test.ts", "test/cluster/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    globalSetup: ["test/global-setup.ts", "test/cluster-setup.ts"],
  },
});
