/**
 * Counts journal entries as they are committed. A write-path hook sees the transaction's change
 * set; it counts on the transaction's outcome (knex's executionPromise), so a rolled-back change
 * is never counted, and entries other hooks record after this one are included.
 */
import type { ChangeHook } from '../write/write-path.js';
import { countJournalAppends } from './auth-metrics.js';

export const countCommittedJournalEntries: ChangeHook = async (tx, changes, actor) => {
  tx.executionPromise.then(
    () => countJournalAppends(actor.source, changes.entries.length),
    () => undefined,
  );
};
