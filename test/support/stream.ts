// Reads the event stream back for assertions (XRANGE, in pages).
import type { RedisClient } from "@coupon/redis";

export interface StreamEvent {
  streamId: string;
  id: string;
  type: string;
  couponId: string;
  payload: string;
}

export async function readStream(redis: RedisClient, key: string): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  let start = "-";
  for (;;) {
    const page = await redis.xrange(key, start, "+", "COUNT", 5_000);
    for (const [streamId, fields] of page) {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
      out.push({
        streamId,
        id: f.get("id") ?? "",
        type: f.get("type") ?? "",
        couponId: f.get("couponId") ?? "",
        payload: f.get("payload") ?? "",
      });
    }
    if (page.length < 5_000) return out;
    start = `(${page.at(-1)?.[0]}`;
  }
}

/** Fails with the first coupon whose events, deduplicated by id as a consumer would, go backwards. */
export function perCouponOrderViolation(events: StreamEvent[]): string | null {
  const seen = new Set<string>();
  const last = new Map<string, bigint>();
  for (const e of events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const id = BigInt(e.id);
    const prev = last.get(e.couponId);
    if (prev !== undefined && prev >= id) return `coupon ${e.couponId}: event ${id} after ${prev}`;
    last.set(e.couponId, id);
  }
  return null;
}
