/**
 * One unit of outbound work: sync one resource to one connector, and say what should happen next.
 *   done    the target has the desired state (or, in a dry run, the requests are journaled);
 *   retry   a transient failure (5xx, timeout, reset, 429, auth): try again after a back-off with
 *           jitter, or the target's Retry-After if longer;
 *   wait    not now, and not a failure: the connector is paused, its circuit is open, or another
 *           process holds this resource or every concurrency slot;
 *   parked  the target rejected the content (4xx): recorded with request and response; the rest
 *           of the connector's work goes on.
 * Used by the queue worker and by `sync --full`, so both obey the same locks, limits and journal.
 */
import type { Knex } from 'knex';
import { logger } from '../logging/logger.js';
import type { Connector, ResourceType } from './connector.js';
import { checkGate } from './connector-state.js';
import { syncStateQuery, toSyncState } from './links.js';
import { withSyncLocks, type FinishTail } from './locks.js';
import { park, unpark } from './parked.js';
import { markProbe, Rejected, RetryLater } from './push.js';
import { PushJournal } from './push-journal.js';
import { backoffDelay } from '../lib/backoff.js';
import { createSyncContext } from './sync-context.js';
import { syncGroup } from './sync-group.js';
import { Paused, syncUser } from './sync-user.js';

export type SyncResult =
  | { kind: 'done' }
  | { kind: 'retry'; delayMs: number; reason: string }
  | { kind: 'wait'; until: Date; reason: 'paused' | 'circuit-open' | 'busy' }
  | { kind: 'parked'; reason: string };

export interface SyncOneOptions {
  db: Knex;
  connector: Connector;
  type: ResourceType;
  id: string;
  /** Failed attempts before this one (for the back-off). */
  attempt: number;
  requestId: string;
  /** Journal to buffer into; when absent, one is made and flushed before returning. */
  journal?: PushJournal;
  onCircuitClosed?: () => Promise<void>;
  /** Statements to commit with the sync's last write when it ends under its lock (the queue job's completion). */
  finishTail?: FinishTail | undefined;
}

const jitter = (ms: number) => Math.round(ms * (0.75 + Math.random() * 0.5));

export async function syncOne(options: SyncOneOptions): Promise<SyncResult> {
  const { db, connector, type, id } = options;
  const gate = await checkGate(db, connector.name, connector.config.circuit.openForMs);
  if (!gate.pass) return { kind: 'wait', until: new Date(gate.until.getTime() + jitter(250)), reason: gate.reason };
  if (gate.probe) markProbe(connector.name);

  const journal = options.journal ?? new PushJournal(db, connector.name, options.requestId);
  const context = createSyncContext({
    db,
    connector,
    journal,
    dryRun: connector.config.dryRun,
    ...(options.onCircuitClosed ? { onCircuitClosed: options.onCircuitClosed } : {}),
  });
  try {
    const locked = await withSyncLocks(
      db,
      {
        connector: connector.name,
        resourceKey: `${type}:${id}`,
        concurrency: connector.config.rateLimit.concurrency,
        parked: { type, id },
        read: syncStateQuery(db, connector, type, id),
        finishTail: options.finishTail,
      },
      (row, finish) => {
        // What the sync starts from, read under the object's lock in the lock's own round trip.
        const state = row === undefined ? undefined : toSyncState(row);
        return type === 'User' ? syncUser(context, id, state, finish) : syncGroup(context, id, state);
      },
    );
    if (!locked.acquired) return { kind: 'wait', until: new Date(Date.now() + jitter(200)), reason: 'busy' };
    // Whether it was parked is read under the object's lock, so only a parked object costs the DELETE.
    if (!context.dryRun && locked.parked && (await unpark(db, connector.name, type, id))) journal.event('sync.unparked', {}, { type, id });
    return { kind: 'done' };
  } catch (error) {
    if (error instanceof RetryLater) {
      const settings = connector.config.retry;
      const delayMs = Math.max(backoffDelay(options.attempt, settings.baseDelayMs, settings.maxDelayMs), error.retryAfterMs ?? 0);
      return { kind: 'retry', delayMs, reason: error.message };
    }
    if (error instanceof Paused) return { kind: 'wait', until: new Date(Date.now() + 60_000), reason: 'paused' };
    if (error instanceof Rejected) {
      if (!context.dryRun) await park(db, connector.name, type, id, error.message, error.request, error.response);
      journal.event('sync.parked', { reason: error.message, status: error.response.status }, { type, id });
      logger.warn('sync: object parked', { connector: connector.name, resourceType: type, resourceId: id, reason: error.message });
      return { kind: 'parked', reason: error.message };
    }
    throw error;
  } finally {
    if (!options.journal) await journal.flush();
  }
}
