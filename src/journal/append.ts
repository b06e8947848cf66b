import type { Knex } from 'knex';
import type { Actor, JournalEntryInput } from './entry.js';

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

/** Appends entries in one statement, inside the caller's transaction. */
export async function appendJournal(tx: Knex.Transaction, actor: Actor, entries: readonly JournalEntryInput[]): Promise<void> {
  if (entries.length === 0) return;
  await tx('journal').insert(
    entries.map((entry) => ({
      actor: actor.name,
      source: actor.source,
      request_id: actor.requestId,
      action: entry.action,
      resource_type: entry.resourceType ?? null,
      resource_id: entry.resourceId ?? null,
      before: json(entry.before),
      after: json(entry.after),
      changes: json(entry.changes),
      reason: json(entry.reason),
    })),
  );
}
