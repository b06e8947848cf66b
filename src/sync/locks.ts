/**
 * Cross-process exclusion for outbound work, with PostgreSQL advisory locks held by a transaction
 * that lasts as long as one resource's sync (decision 0202):
 *  - one lock per (connector, resource): two processes never sync the same object at once, so
 *    requests for one resource go out in order and a create is never sent twice in parallel;
 *  - one of N slot locks per connector: at most `concurrency` syncs talk to a target at a time,
 *    however many Roster processes run.
 * A crashed process's locks vanish with its session; nothing needs cleaning up.
 */
import type { Knex } from 'knex';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type Locked<T> = { acquired: true; value: T } | { acquired: false };

export interface LockOptions {
  connector: string;
  resourceKey: string;
  concurrency: number;
  /** Give up waiting for a free slot after this long (the caller retries later). */
  slotWaitMs?: number;
}

export async function withSyncLocks<T>(db: Knex, options: LockOptions, work: () => Promise<T>): Promise<Locked<T>> {
  const trx = await db.transaction();
  try {
    const { rows } = (await trx.raw(`SELECT pg_try_advisory_xact_lock(hashtext(?), hashtext(?)) AS ok`, [`sync-resource:${options.connector}`, options.resourceKey])) as {
      rows: Array<{ ok: boolean }>;
    };
    if (!rows[0]?.ok) return { acquired: false };
    const deadline = Date.now() + (options.slotWaitMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      const slot = (await trx.raw(
        `SELECT s FROM generate_series(0, ? - 1) AS s WHERE pg_try_advisory_xact_lock(hashtext(?), s) LIMIT 1`,
        [options.concurrency, `sync-slot:${options.connector}`],
      )) as { rows: unknown[] };
      if (slot.rows.length > 0) break;
      if (Date.now() > deadline) return { acquired: false };
      await sleep(Math.min(50, 5 + attempt * 5) * (0.5 + Math.random()));
    }
    return { acquired: true, value: await work() };
  } finally {
    // Nothing was written in this transaction; ending it (commit: no rejected-promise noise) releases the locks.
    await trx.commit().catch(() => undefined);
  }
}
