/**
 * Counts journal entries as they are committed. A write-path hook sees the transaction's change
 * set; it counts on the transaction's outcome (knex's executionPromise), so a rolled-back change
 * is never counted, and entries other hooks record after this one are included.
 */
import type { Knex } from 'knex';
import { countJournalAppends } from './auth-metrics.js';

/** A write-path hook (src/compose/write-path.ts registers it), typed by what it reads so metrics stay below the write path. */
export const countCommittedJournalEntries = async (tx: Knex.Transaction, changes: { entries: readonly unknown[] }, actor: { source: string }): Promise<void> => {
  tx.executionPromise.then(
    () => countJournalAppends(actor.source, changes.entries.length),
    () => undefined,
  );
};
