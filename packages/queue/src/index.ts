export * from "./contracts.js";
export * from "./issue-queue.js";
export * from "./direct-batch-queue.js";
