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
import { isResourceId } from '../store/rows.js';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type Locked<T> = { acquired: true; value: T; parked: boolean } | { acquired: false };

export interface LockOptions {
  connector: string;
  resourceKey: string;
  concurrency: number;
  /** Give up waiting for a free slot after this long (the caller retries later). */
  slotWaitMs?: number;
  /**
   * Wait this long for another process's sync of the same object to end (it usually takes a few
   * milliseconds) before giving up; the caller then re-queues it. Default 300 ms.
   */
  resourceWaitMs?: number;
  /** Also report whether this object is parked (read under its lock, in the same round trip). */
  parked?: { type: string; id: string };
}

/**
 * The object's lock, then (only if that was free) a slot, and whether the object is parked, in one
 * statement: CASE evaluates its branch only when the object lock was taken, and the inner query is
 * a correlated subplan, evaluated there and then (OFFSET 0 keeps the lock call from being inlined).
 */
const LOCK_SQL = `
  SELECT r.ok,
         CASE WHEN r.ok THEN (SELECT s FROM generate_series(0, ?::int - 1) AS s WHERE r.ok AND pg_try_advisory_xact_lock(hashtext(?), s) LIMIT 1) END AS slot,
         CASE WHEN r.ok AND ?::boolean THEN EXISTS (SELECT 1 FROM sync_parked p WHERE p.connector = ? AND p.resource_type = ? AND p.resource_id = ?::uuid) END AS parked
    FROM (SELECT pg_try_advisory_xact_lock(hashtext(?), hashtext(?)) AS ok OFFSET 0) AS r`;

export async function withSyncLocks<T>(db: Knex, options: LockOptions, work: () => Promise<T>): Promise<Locked<T>> {
  const trx = await db.transaction();
  try {
    const slotName = `sync-slot:${options.connector}`;
    // A malformed id cannot be parked (and must not reach the ::uuid cast).
    const parked = options.parked && isResourceId(options.parked.id) ? options.parked : undefined;
    const bindings = [
      options.concurrency,
      slotName,
      parked !== undefined,
      options.connector,
      parked?.type ?? '',
      parked?.id ?? NIL_UUID,
      `sync-resource:${options.connector}`,
      options.resourceKey,
    ];
    let first: { ok: boolean; slot: number | null; parked: boolean | null } | undefined;
    const resourceDeadline = Date.now() + (options.resourceWaitMs ?? 300);
    for (let attempt = 0; ; attempt++) {
      const { rows } = (await trx.raw(LOCK_SQL, bindings)) as { rows: Array<{ ok: boolean; slot: number | null; parked: boolean | null }> };
      first = rows[0];
      if (first?.ok) break;
      if (Date.now() > resourceDeadline) return { acquired: false };
      await sleep(Math.min(50, 10 + attempt * 10));
    }
    const deadline = Date.now() + (options.slotWaitMs ?? 30_000);
    for (let attempt = 0, slot = first.slot; slot === null; attempt++) {
      if (Date.now() > deadline) return { acquired: false };
      await sleep(Math.min(50, 5 + attempt * 5) * (0.5 + Math.random()));
      const next = (await trx.raw(`SELECT s FROM generate_series(0, ? - 1) AS s WHERE pg_try_advisory_xact_lock(hashtext(?), s) LIMIT 1`, [
        options.concurrency,
        slotName,
      ])) as { rows: Array<{ s: number }> };
      slot = next.rows[0]?.s ?? null;
    }
    return { acquired: true, value: await work(), parked: first.parked === true };
  } finally {
    // Nothing was written in this transaction; ending it (commit: no rejected-promise noise) releases the locks.
    await trx.commit().catch(() => undefined);
  }
}
