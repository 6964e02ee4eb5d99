export * from "./connection.js";
export * from "./keys.js";
export * from "./scripts.js";
export * from "./admission.js";
export * from "./pending.js";
export * from "./policy-state.js";
export * from "./policy-events.js";
export * from "./coupon-cache.js";
