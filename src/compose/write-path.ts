/**
 * The composition root's write path (src/compose/ is where Roster's parts are put together; the
 * HTTP app is app.ts beside this). Every entry point (`serve`, each CLI command that writes, the
 * tests and the bench) builds its write path here, so which rules run on a change, and in what
 * order, is written once (docs/architecture.md).
 */
import type { Knex } from 'knex';
import { countCommittedJournalEntries } from '../metrics/journal-metrics.js';
import { refuseManagedGroupChange } from '../policy/managed-group-guard.js';
import { policyHook } from '../policy/hook.js';
import type { ConnectorSet } from '../sync/connector.js';
import { outboxHook } from '../sync/outbox.js';
import { WritePath } from '../write/write-path.js';

export interface WritePathParts {
  /**
   * Evaluate the access policy on every change to a user. `serve` turns it on when it enforces a
   * policy file (docs/decisions/0101, 0109); CLI commands that write always do.
   */
  policy: boolean;
  /** Queue an outbound job for every change these connectors must hear of (none: no outbox). */
  connectors?: ConnectorSet | undefined;
  /** Count committed journal entries for /metrics (the HTTP server's process). */
  metrics?: boolean;
}

/**
 * The write path with its guard and hooks. Inside each change's transaction, after the work and
 * before the journal is appended, the hooks run in this order:
 *   1. policy: recomputes the changed users' roles and managed memberships, recording them as
 *      changes of their own (0102);
 *   2. outbox: enqueues "sync R to C" for every resource changed so far, the policy's memberships
 *      included, which is why it comes after the policy (0200);
 *   3. metrics: counts the entries once the transaction commits, all hooks' entries included.
 * The managed-group guard always runs: a SCIM client may not change a group the policy manages,
 * even while no policy file is enforced, until an operator unmanages it.
 */
export function composeWritePath(db: Knex, parts: WritePathParts): WritePath {
  const writePath = new WritePath(db, { beforeGroupChange: refuseManagedGroupChange });
  if (parts.policy) writePath.addHook(policyHook);
  if (parts.connectors && parts.connectors.size > 0) writePath.addHook(outboxHook(parts.connectors));
  if (parts.metrics) writePath.addHook(countCommittedJournalEntries);
  return writePath;
}
