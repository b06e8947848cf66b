/**
 * The one write path. Every change (SCIM request, bulk operation, CLI, later HR import, policy and
 * sync) runs inside `WritePath.run`: one PostgreSQL transaction that writes the resource rows,
 * lets registered hooks act on the recorded changes (policy evaluation and outbound jobs plug in
 * here, inside the same transaction), and appends the journal entries. If anything throws, nothing
 * is written and nothing is journaled.
 */
import type { Knex } from 'knex';
import { appendJournal } from '../journal/append.js';
import type { Actor, JournalEntryInput } from '../journal/entry.js';

export class ChangeSet {
  readonly entries: JournalEntryInput[] = [];
  record(entry: JournalEntryInput): void {
    this.entries.push(entry);
  }
}

/** Runs inside the transaction after the work, before the journal is appended; may record more changes. */
export type ChangeHook = (tx: Knex.Transaction, changes: ChangeSet, actor: Actor) => Promise<void>;

export interface WriteContext {
  tx: Knex.Transaction;
  changes: ChangeSet;
  actor: Actor;
}

export class WritePath {
  private readonly hooks: ChangeHook[] = [];

  constructor(readonly db: Knex) {}

  addHook(hook: ChangeHook): void {
    this.hooks.push(hook);
  }

  async run<T>(actor: Actor, work: (context: WriteContext) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      const changes = new ChangeSet();
      const result = await work({ tx, changes, actor });
      if (changes.entries.length > 0) {
        for (const hook of this.hooks) await hook(tx, changes, actor);
        await appendJournal(tx, actor, changes.entries);
      }
      return result;
    });
  }
}
