// The runtime client. Importing this module loads Prisma's query compiler but opens no
// connection; createPrismaClient() does, lazily, on the first query.
import { PrismaPg } from "@prisma/adapter-pg";

import { PrismaClient } from "./generated/prisma/client.js";
import { parseDatabaseUrl } from "./internal/pg-config.js";

export { Prisma, PrismaClient } from "./generated/prisma/client.js";
export * from "./generated/prisma/enums.js";
export type { CouponAudit, CouponIssue, CouponPolicy, IssueRequest, OutboxEvent } from "./generated/prisma/client.js";

export interface CreatePrismaClientOptions {
  /** Maximum connections in the pg pool (pg's default is 10). */
  poolSize?: number;
}

/**
 * A PrismaClient over @prisma/adapter-pg. `databaseUrl` is postgresql://user:password@host:port/db,
 * optionally with `?schema=name`. Call `$disconnect()` to close the pool.
 */
export function createPrismaClient(databaseUrl: string, opts: CreatePrismaClientOptions = {}): PrismaClient {
  const { pg, schema } = parseDatabaseUrl(databaseUrl);
  const adapter = new PrismaPg(
    { ...pg, ...(opts.poolSize === undefined ? {} : { max: opts.poolSize }) },
    schema === undefined ? undefined : { schema },
  );
  return new PrismaClient({ adapter });
}
