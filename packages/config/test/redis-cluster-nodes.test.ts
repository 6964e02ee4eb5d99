// REDIS_CLUSTER_NODES: unset or empty means a single Redis; a list of host:port seeds a cluster;
// anything else is refused at start-up, named in the message.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@coupon/config";

const base = { JWT_SECRET: "x".repeat(32) };

describe("REDIS_CLUSTER_NODES", () => {
  it("is absent when unset or empty: a single Redis at REDIS_URL", () => {
    expect(loadConfig(base).REDIS_CLUSTER_NODES).toBeUndefined();
    expect(loadConfig({ ...base, REDIS_CLUSTER_NODES: "" }).REDIS_CLUSTER_NODES).toBeUndefined();
  });

  it("parses host:port seeds, spaces after commas allowed", () => {
    expect(loadConfig({ ...base, REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b.internal:7001,localhost:7002" }).REDIS_CLUSTER_NODES).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-b.internal", port: 7001 },
      { host: "localhost", port: 7002 },
    ]);
  });

  it.each(["10.0.0.1", "10.0.0.1:", "a:1,,b:2", "redis://a:1", "a:70000", "a:1;b:2"])("refuses %j", (value) => {
    let err: unknown;
    try {
      loadConfig({ ...base, REDIS_CLUSTER_NODES: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain(`REDIS_CLUSTER_NODES=${JSON.stringify(value)}`);
  });
});
