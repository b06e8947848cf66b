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
import type pg from 'pg';
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
  /** A read to run once the object's lock is held, in the same round trip; its first row goes to `work`. */
  read?: Knex.Raw | undefined;
  /** Statements that ride along with `finish`'s last write, before its COMMIT (job-drain.ts). */
  finishTail?: FinishTail | undefined;
}

/**
 * Statements appended to the last write of a sync that ends under its lock, so they commit with it
 * in the same round trip. Not used when the object is parked: its unpark and journal entry follow.
 */
export interface FinishTail {
  statements(): string[];
  /** Their results, once committed. */
  settle(results: pg.QueryResult[]): void;
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

type LockRow = { ok: boolean; slot: number | null; parked: boolean | null };

/** A simple query's results, one per statement (pg gives a lone result for a single statement). */
async function simpleQuery(connection: pg.Client, db: Knex, sql: string): Promise<pg.QueryResult[]> {
  // knex's 'query' event, as for its own statements (debug logs, tests counting statements).
  (db.client as unknown as NodeJS.EventEmitter).emit('query', { method: 'raw', sql, bindings: [] });
  const result = (await connection.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
  return Array.isArray(result) ? result : [result];
}

/**
 * Runs `work` while holding the object's lock and a slot. `options.read`, when given, is run as
 * soon as the object's lock is held, and its first row is handed to `work`.
 *
 * BEGIN, the lock statement and the read travel in one round trip (decision 0705): a simple query
 * of several statements, their values inlined by knex's escaping (ids are checked UUIDs, names come
 * from the configuration). Each statement of it takes its own snapshot, so the read sees everything
 * committed before the lock was taken, as a read sent afterwards did.
 */
/**
 * Ends the locks' transaction with `statement`: "statement; COMMIT" in one round trip, so the
 * statement commits as the locks are released. Nothing under the locks may follow it.
 */
export type FinishUnderLock = (statement: Knex.Raw) => Promise<void>;

export async function withSyncLocks<T>(db: Knex, options: LockOptions, work: (read: unknown, finish: FinishUnderLock) => Promise<T>): Promise<Locked<T>> {
  const connection = (await db.client.acquireConnection()) as pg.Client;
  let finished = false;
  let tail: FinishTail | undefined;
  const finish: FinishUnderLock = async (statement) => {
    if (finished) throw new Error('withSyncLocks: the locks were already released');
    const extra = tail?.statements() ?? [];
    const results = await simpleQuery(connection, db, [statement.toQuery(), ...extra, 'COMMIT'].join(';\n'));
    finished = true;
    if (extra.length > 0) tail?.settle(results.slice(1, 1 + extra.length));
  };
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
    const lockAndRead = [db.raw(LOCK_SQL, bindings).toQuery(), ...(options.read ? [options.read.toQuery()] : [])].join(';\n');
    let first: LockRow | undefined;
    let read: unknown;
    const resourceDeadline = Date.now() + (options.resourceWaitMs ?? 300);
    for (let attempt = 0; ; attempt++) {
      const results = await simpleQuery(connection, db, attempt === 0 ? `BEGIN;\n${lockAndRead}` : lockAndRead);
      const offset = attempt === 0 ? 1 : 0;
      first = results[offset]?.rows[0] as LockRow | undefined;
      read = results[offset + 1]?.rows[0];
      if (first?.ok) break;
      if (Date.now() > resourceDeadline) return { acquired: false };
      await sleep(Math.min(50, 10 + attempt * 10));
    }
    const deadline = Date.now() + (options.slotWaitMs ?? 30_000);
    const slotSql = db.raw(`SELECT s FROM generate_series(0, ?::int - 1) AS s WHERE pg_try_advisory_xact_lock(hashtext(?), s) LIMIT 1`, [options.concurrency, slotName]).toQuery();
    for (let attempt = 0, slot = first.slot; slot === null; attempt++) {
      if (Date.now() > deadline) return { acquired: false };
      await sleep(Math.min(50, 5 + attempt * 5) * (0.5 + Math.random()));
      const [next] = await simpleQuery(connection, db, slotSql);
      slot = (next?.rows[0] as { s: number } | undefined)?.s ?? null;
    }
    if (first.parked !== true) tail = options.finishTail;
    return { acquired: true, value: await work(read, finish), parked: first.parked === true };
  } finally {
    // Unless `finish` ended it, nothing was written in this transaction; ending it releases the
    // locks (after an error, PostgreSQL turns the COMMIT into a rollback).
    if (!finished) await simpleQuery(connection, db, 'COMMIT').catch(() => undefined);
    await db.client.releaseConnection(connection);
  }
}
