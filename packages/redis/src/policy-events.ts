// A broadcast that a policy's Redis state changed in a way that may turn a refusal into an
// admission (stock or a user's place given back, rules changed, state rebuilt). Gateways that
// cache refusals listen; the message is the policy id. Plain PUBLISH reaches every node of a
// Redis Cluster, so subscribers on any node hear it.
import type { KeySpace } from "./keys.js";
import type { RedisClient } from "./scripts.js";

export async function publishPolicyChanged(redis: RedisClient, keys: KeySpace, policyId: string): Promise<void> {
  await redis.publish(keys.policyEvents(), policyId);
}

/** Subscribes `subscriber` (a connection of its own) and calls back per changed policy. */
export async function onPolicyChanged(
  subscriber: RedisClient,
  keys: KeySpace,
  changed: (policyId: string) => void,
): Promise<void> {
  const channel = keys.policyEvents();
  subscriber.on("message", (ch: string, message: string) => {
    if (ch === channel) changed(message);
  });
  // Subscribing before the connection is ready makes ioredis' ready check (INFO) fail on a
  // connection that is already in subscriber mode.
  if (subscriber.status !== "ready") await new Promise<void>((resolve) => subscriber.once("ready", () => resolve()));
  await subscriber.subscribe(channel);
}
