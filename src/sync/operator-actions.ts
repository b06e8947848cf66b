/**
 * What an operator does to a connector by hand, written once for every face of Roster (the CLI's
 * `sync retry` / `sync approve` and the console's buttons): each runs the same code and journals
 * the same entry, with the person who asked as the actor.
 */
import type { Knex } from 'knex';
import { appendJournal } from '../journal/append.js';
import type { Actor } from '../journal/entry.js';
import type { Connector } from './connector.js';
import { approveConnector, ensureConnectorRows } from './connector-state.js';
import { wakeConnectorJobs } from './jobs.js';
import { listParked } from './parked.js';
import { syncOne } from './sync-one.js';
import { fullSync, type FindingsRecorder, type FullSyncReport, type Progress } from './full-sync.js';
import { createSyncDatabase } from './worker.js';
import { connectionStringOf } from '../db/knex.js';

export interface RetryOutcome {
  resourceType: 'User' | 'Group';
  resourceId: string;
  /** pushed: the target took it; parked: rejected again; deferred: target unavailable or paused (the queue retries it). */
  outcome: 'pushed' | 'parked' | 'deferred';
  reason?: string;
}

/**
 * Tries a connector's parked objects again now (all of them, or the one with `id`), through the
 * same syncOne the queue worker runs. Journals one `sync.retried` entry listing each outcome; for
 * one object the entry is about that object, so it shows in its history.
 */
export async function retryParked(db: Knex, connector: Connector, actor: Actor, id?: string): Promise<RetryOutcome[]> {
  await ensureConnectorRows(db, [connector.name]);
  const parked = (await listParked(db, connector.name, 100_000)).filter((p) => !id || p.resourceId === id.toLowerCase());
  const outcomes: RetryOutcome[] = [];
  for (const p of parked) {
    const result = await syncOne({ db, connector, type: p.resourceType, id: p.resourceId, attempt: 0, requestId: actor.requestId });
    const outcome = result.kind === 'done' ? 'pushed' : result.kind === 'parked' ? 'parked' : 'deferred';
    outcomes.push({ resourceType: p.resourceType, resourceId: p.resourceId, outcome, ...(result.kind === 'parked' ? { reason: result.reason } : {}) });
  }
  if (outcomes.length > 0) {
    const single = id && outcomes.length === 1 ? outcomes[0] : undefined;
    await db.transaction((tx) =>
      appendJournal(tx, actor, [
        {
          action: 'sync.retried',
          ...(single ? { resourceType: single.resourceType, resourceId: single.resourceId } : {}),
          changes: { connector: connector.name, outcomes },
        },
      ]),
    );
  }
  return outcomes;
}

/**
 * Lifts a connector's mass-change guard pause so its pending changes go out. Returns whether it
 * was paused and how many waiting jobs were woken; journals `sync.approved` when it was paused.
 */
export async function approveGuardPause(db: Knex, connectorName: string, actor: Actor): Promise<{ wasPaused: boolean; woken: number }> {
  await ensureConnectorRows(db, [connectorName]);
  const wasPaused = await approveConnector(db, connectorName);
  if (!wasPaused) return { wasPaused, woken: 0 };
  const woken = await wakeConnectorJobs(db, connectorName);
  await db.transaction((tx) => appendJournal(tx, actor, [{ action: 'sync.approved', changes: { connector: connectorName } }]));
  return { wasPaused, woken };
}

/**
 * A full sync (initial sync / reconciliation, or with reportOnly a drift report that changes
 * nothing), on a pool sized for the connector's concurrency (each running sync holds a lock
 * connection). Journals who asked (`sync.full.requested`); the sync's own entries share the
 * request id.
 */
/** A full sync started by an operator: journaled as requested, then run; its findings go to `findings` (the governance ledger). */
export async function runFullSync(
  db: Knex,
  connector: Connector,
  actor: Actor,
  options: { reportOnly: boolean; onProgress?: (progress: Progress) => void; findings?: FindingsRecorder | undefined },
): Promise<FullSyncReport> {
  await db.transaction((tx) => appendJournal(tx, actor, [{ action: 'sync.full.requested', changes: { connector: connector.name, reportOnly: options.reportOnly } }]));
  const syncDb = createSyncDatabase(connectionStringOf(db), connector.config.rateLimit.concurrency);
  try {
    return await fullSync(syncDb, connector, { reportOnly: options.reportOnly, requestId: actor.requestId, findings: options.findings, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
  } finally {
    await syncDb.destroy();
  }
}
