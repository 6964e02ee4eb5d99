export * from "./errors.js";
export * from "./ids.js";
export * from "./coupon-number.js";
export * from "./coupon-status.js";
export * from "./coupon-transitions.js";
export * from "./policy.js";
export * from "./issue-request.js";
export * from "./events.js";
