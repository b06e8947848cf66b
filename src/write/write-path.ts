/**
 * The one write path. Every change (SCIM request, bulk operation, CLI, later HR import, policy and
 * sync) runs inside `WritePath.run`: one PostgreSQL transaction that writes the resource rows,
 * lets registered hooks act on the recorded changes (policy evaluation and outbound jobs plug in
 * here, inside the same transaction), and appends the journal entries. If anything throws, nothing
 * is written and nothing is journaled.
 */
import type { Knex } from 'knex';
import { appendJournal } from '../journal/append.js';
import { backoffDelay } from '../lib/backoff.js';
import type { Actor, JournalEntryInput } from '../journal/entry.js';
import type { ResourceRow } from '../store/rows.js';
import { SharedCommit } from './shared-commit.js';

export class ChangeSet {
  readonly entries: JournalEntryInput[] = [];
  private readonly deferred: Array<Promise<unknown>> = [];

  record(entry: JournalEntryInput): void {
    this.entries.push(entry);
  }

  /**
   * Statements a hook sent on the transaction without waiting for them: the write path lets them
   * run while it prepares the journal (PostgreSQL stores the policy's memberships while Node
   * digests the entries), waits for them before the next hook and before commit, and throws their
   * error, if any, in place of whatever failed after it. Only for writes nothing in between reads.
   */
  defer(statements: Promise<unknown>): void {
    statements.catch(() => undefined); // reported by settle(), not as an unhandled rejection
    this.deferred.push(statements);
  }

  /** Waits for the deferred statements; throws the first one's error. */
  async settle(): Promise<void> {
    while (this.deferred.length > 0) await this.deferred.shift();
  }
}

/** One change's record and author, as a hook over several changes sees them. */
export interface HookedChange {
  changes: ChangeSet;
  actor: Actor;
}

/**
 * Runs inside the transaction after the work, before the journal is appended; may record more
 * changes. `many`, when a hook has it, does the same for the changes of one shared transaction at
 * once (decision 0708): each recorded into its own change set, the statements shared. Without it,
 * the hook runs once per change.
 */
export type ChangeHook = ((tx: Knex.Transaction, changes: ChangeSet, actor: Actor) => Promise<void>) & {
  many?: (tx: Knex.Transaction, changes: readonly HookedChange[]) => Promise<void>;
};

/** What a group operation is about to do, for a guard to judge. */
export interface GroupChange {
  membersChanged?: boolean;
  renamed?: boolean;
  deleting?: boolean;
}

/**
 * Rules a change must pass before it is stored, for the layers above the resources to plug in
 * (the composition root, src/compose/write-path.ts, does). A guard refuses by throwing a SCIM error.
 */
export interface WriteGuards {
  /** Before a group's members change, it is renamed or deleted (the policy's managed groups refuse). */
  beforeGroupChange?(tx: Knex.Transaction, group: ResourceRow, change: GroupChange): Promise<void>;
}

export interface WriteContext {
  tx: Knex.Transaction;
  changes: ChangeSet;
  actor: Actor;
  guards: WriteGuards;
}

/** The part of a write's context that hooks have too (they run after the guarded work). */
export type ChangeContext = Omit<WriteContext, 'guards'>;

export class WritePath {
  private readonly hooks: ChangeHook[] = [];
  private readonly shared: SharedCommit<WriteContext>;

  constructor(
    readonly db: Knex,
    private readonly guards: WriteGuards = {},
  ) {
    this.shared = new SharedCommit<WriteContext>({
      db,
      contextFor: (tx, actor) => ({ tx, changes: new ChangeSet(), actor, guards: this.guards }),
      finishMany: (tx, changes) => this.finishMany(tx, changes),
      runAlone: (actor, work) => this.run(actor, work),
      isRetryable,
    });
  }

  addHook(hook: ChangeHook): void {
    this.hooks.push(hook);
  }

  /**
   * Runs `work` and the hooks in one transaction. A transaction PostgreSQL aborted as a deadlock
   * victim or for a serialization failure is run again (up to RETRIES more times, after a short
   * jittered pause): it was rolled back whole, and the retry re-reads everything, so the caller sees
   * one outcome instead of a 500 for a race it did not cause. `work` must therefore not depend on
   * what an earlier attempt did outside the database.
   */
  async run<T>(actor: Actor, work: (context: WriteContext) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.runOnce(actor, work);
      } catch (error) {
        if (attempt >= RETRIES || !isRetryable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, RETRY_BASE_MS, RETRY_MAX_MS)));
      }
    }
  }

  /**
   * Like `run`, for one independent change among many concurrent ones (a SCIM request): it may share
   * its transaction with changes that arrive at the same time, each in a savepoint of its own, so
   * it fails alone and commits with its own journal entries (shared-commit.ts, decision 0700).
   * The promise settles once the shared transaction has committed.
   */
  runShared<T>(actor: Actor, work: (context: WriteContext) => Promise<T>): Promise<T> {
    return this.shared.run(actor, work);
  }

  /**
   * The hooks, in order, over changes that have entries: a hook with `many` once over several of
   * them (one state read, one version bump, one write for a batch of joiners), otherwise once per
   * change; each hook after the statements deferred before it. The last hook's deferred statements
   * may still be running.
   */
  private async runHooks(tx: Knex.Transaction, changed: readonly HookedChange[]): Promise<void> {
    for (const hook of this.hooks) {
      await settleAll(changed);
      if (hook.many && changed.length > 1) await hook.many(tx, changed);
      else {
        for (const change of changed) {
          await change.changes.settle();
          await hook(tx, change.changes, change.actor);
        }
      }
    }
  }

  /**
   * The hooks over the changes of a shared transaction whose work is done, and every deferred
   * statement done: their journal is appended later.
   */
  private async finishMany(tx: Knex.Transaction, all: readonly HookedChange[]): Promise<void> {
    await settleAll(all);
    const changed = all.filter((change) => change.changes.entries.length > 0);
    await this.runHooks(tx, changed);
    await settleAll(changed);
  }

  private runOnce<T>(actor: Actor, work: (context: WriteContext) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      const changes = new ChangeSet();
      const result = await work({ tx, changes, actor, guards: this.guards });
      await changes.settle();
      if (changes.entries.length > 0) {
        await this.runHooks(tx, [{ changes, actor }]);
        try {
          await appendJournal(tx, actor, changes.entries);
        } finally {
          // A deferred statement that failed aborted the transaction, so the append failed too:
          // the deferred error is the one to report.
          await changes.settle();
        }
      }
      return result;
    });
  }

  /**
   * Many items in one transaction: `work` handles all of them (and returns one result per item, in
   * order), the hooks run once over all their changes, and the journal is appended once, under one
   * acquisition of the chain lock. Each item still records its own entries. If the transaction
   * fails, every item is redone alone, in its own `run`, so a bad item fails only itself; its error
   * is its outcome. `onOutcome` hears of each item as soon as its transaction has ended.
   */
  async runBatch<I, R>(
    actor: Actor,
    items: readonly I[],
    work: (context: WriteContext, items: readonly I[]) => Promise<R[]>,
    onOutcome?: (item: I, outcome: BatchOutcome<R>) => void,
  ): Promise<Array<BatchOutcome<R>>> {
    if (items.length === 0) return [];
    let batchError: unknown;
    try {
      const results = await this.run(actor, (context) => work(context, items));
      const outcomes = items.map((item, i): BatchOutcome<R> => ({ ok: true, result: results[i]! }));
      items.forEach((item, i) => onOutcome?.(item, outcomes[i]!));
      return outcomes;
    } catch (error) {
      batchError = error;
    }
    if (items.length === 1) {
      const outcome: BatchOutcome<R> = { ok: false, error: batchError };
      onOutcome?.(items[0]!, outcome);
      return [outcome];
    }
    const outcomes: Array<BatchOutcome<R>> = [];
    for (const item of items) {
      let outcome: BatchOutcome<R>;
      try {
        const [result] = await this.run(actor, (context) => work(context, [item]));
        outcome = { ok: true, result: result! };
      } catch (error) {
        outcome = { ok: false, error };
      }
      onOutcome?.(item, outcome);
      outcomes.push(outcome);
    }
    return outcomes;
  }
}

async function settleAll(changes: readonly HookedChange[]): Promise<void> {
  for (const change of changes) await change.changes.settle();
}

/** Attempts after the first for a transaction aborted by a deadlock or serialization failure. */
const RETRIES = 3;
/** Their pause: the sync's jittered back-off, so the two transactions that collided part ways. */
const RETRY_BASE_MS = 10;
const RETRY_MAX_MS = 100;

/** PostgreSQL's deadlock_detected and serialization_failure: the transaction may simply be run again. */
function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

export type BatchOutcome<R> = { ok: true; result: R } | { ok: false; error: unknown };
