/**
 * Several independent writes sent as one statement: each becomes a data-modifying CTE of
 * `WITH w1 AS (…), w2 AS (…) SELECT 1`, so a transaction pays one round trip (and one statement's
 * parse and plan) instead of one per write (decision 0702). Only for writes that do not depend on
 * each other: PostgreSQL runs them on one snapshot, and none sees another's rows.
 */
import type { Knex } from 'knex';

/** One write, with knex-style `?` placeholders. */
export interface WriteSql {
  sql: string;
  bindings: readonly Knex.RawBinding[];
}

export async function runFolded(db: Knex | Knex.Transaction, writes: ReadonlyArray<WriteSql | undefined>): Promise<void> {
  const present = writes.filter((w): w is WriteSql => w !== undefined);
  if (present.length === 0) return;
  if (present.length === 1) {
    await db.raw(present[0]!.sql, present[0]!.bindings);
    return;
  }
  const ctes = present.map((w, i) => `w${i} AS (${w.sql})`).join(', ');
  await db.raw(`WITH ${ctes} SELECT 1`, present.flatMap((w) => w.bindings));
}
