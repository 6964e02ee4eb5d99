export * from "./contracts.js";
export * from "./issue-queue.js";
