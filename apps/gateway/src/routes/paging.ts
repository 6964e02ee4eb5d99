// Keyset paging: `?limit=` (default 100, max 1000) and `after=<last id>`; the next page's URL
// goes in a Link header while there may be one.
import { DomainError } from "@coupon/domain";
import type { FastifyReply, FastifyRequest } from "fastify";

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

export interface Page {
  limit: number;
  after: bigint | null;
}

export function readPage(query: { limit?: string; after?: string }): Page {
  const limit = query.limit === undefined ? DEFAULT_PAGE : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new DomainError("VALIDATION", `querystring.limit must be between 1 and ${MAX_PAGE}`);
  }
  const after = query.after === undefined ? null : BigInt(query.after);
  if (after !== null && after > (1n << 63n) - 1n) throw new DomainError("VALIDATION", "querystring.after is too large");
  return { limit, after };
}

export function linkNext(request: FastifyRequest, reply: FastifyReply, page: Page, count: number, lastId: bigint | undefined) {
  if (count < page.limit || lastId === undefined) return;
  const url = new URL(request.url, "http://placeholder");
  url.searchParams.set("limit", String(page.limit));
  url.searchParams.set("after", lastId.toString());
  reply.header("link", `<${url.pathname}${url.search}>; rel="next"`);
}
