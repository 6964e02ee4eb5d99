// A PostgreSQL session advisory lock on a connection of its own, held for as long as a job runs.
// Its own connection because a pooled one would carry the lock back into the pool, and a
// transaction-scoped lock would pin one long transaction for the job's whole duration. If the
// process dies, PostgreSQL closes the session and the lock goes with it.
import pg from "pg";
import { parseDatabaseUrl } from "./internal/pg-config.js";

/** The first half of every two-key advisory lock this service takes ("CPN" + 1). */
const LOCK_NAMESPACE = 0x43504e01;

export interface HeldLock {
  release: () => Promise<void>;
}

/** Null when another session holds the lock named `name`; never waits. */
export async function tryAdvisoryLock(databaseUrl: string, name: string): Promise<HeldLock | null> {
  const client = new pg.Client(parseDatabaseUrl(databaseUrl).pg);
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked",
      [LOCK_NAMESPACE, name],
    );
    if (!rows[0]?.locked) {
      await client.end();
      return null;
    }
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return {
    // Ending the session releases the lock even if the unlock query fails.
    release: async () => {
      await client.query("SELECT pg_advisory_unlock($1::int, hashtext($2))", [LOCK_NAMESPACE, name]).catch(() => {});
      await client.end();
    },
  };
}
