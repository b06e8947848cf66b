/**
 * Group commit for single writes (decision 0700): concurrent changes that arrive while a shared
 * transaction is committing wait for it, then run together in the next one, each inside its own
 * SAVEPOINT. A change that fails is rolled back to its savepoint and fails alone, with its own
 * error; the others commit together, each with its own journal entries under its own actor and
 * request id. What the batch pays once instead of once per change: BEGIN and COMMIT (the WAL
 * flush), the journal's link at commit (the chain head lock, held through the flush), and the row
 * locks every change takes on the same rows (the resource count, a group everyone joins), which
 * until now serialised those changes one commit at a time.
 *
 * The order is the order of arrival, and each change sees the ones before it in its batch, as if
 * they had run one after the other. A change the database aborted as a deadlock victim or for a
 * serialization failure, and every change of a batch whose COMMIT failed, is run again alone
 * through the ordinary write path (with its retries), so a caller sees one outcome, as before.
 */
import type { Knex } from 'knex';
import { appendJournalOfMany } from '../journal/append.js';
import type { Actor, JournalEntryInput } from '../journal/entry.js';

/** The part of a change's context the shared commit handles (write-path.ts's WriteContext has more). */
interface ChangeContext {
  changes: ChangeRecord;
}

interface ChangeRecord {
  readonly entries: readonly JournalEntryInput[];
  settle(): Promise<void>;
}

/** What the shared commit needs from the write path that owns it (which imports this module). */
export interface SharedCommitHost<C extends ChangeContext> {
  db: Knex;
  /** A fresh context for one change inside the shared transaction. */
  contextFor(tx: Knex.Transaction, actor: Actor): C;
  /**
   * Runs the hooks over the changes whose work succeeded, all at once (policy, outbox), and settles
   * their deferred statements; the journal is appended after.
   */
  finishMany(tx: Knex.Transaction, changes: ReadonlyArray<{ changes: C['changes']; actor: Actor }>): Promise<void>;
  /** Runs one change in a transaction of its own (the write path's `run`). */
  runAlone<T>(actor: Actor, work: (context: C) => Promise<T>): Promise<T>;
  /** Whether an error means the database aborted the work and it may simply run again. */
  isRetryable(error: unknown): boolean;
}

interface Waiting<C> {
  actor: Actor;
  work: (context: C) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Changes per shared transaction. Enough to spread a commit over many requests at the connection
 * counts SCIM clients use; small enough that one transaction's locks and work stay short.
 */
const MAX_BATCH = 64;
const SAVEPOINT = 'roster_change';

/**
 * Shared transactions in flight at once (decision 0708): one running its changes' work while the
 * one before it finishes (hooks, journal, COMMIT). The next batch's inserts and updates go to
 * PostgreSQL while Node digests the previous batch's journal and PostgreSQL flushes its commit;
 * where the two touch the same rows (a group every joiner joins), the later waits for the earlier
 * to commit, as any two transactions do.
 */
const MAX_IN_FLIGHT = 2;

export class SharedCommit<C extends ChangeContext> {
  private readonly waiting: Array<Waiting<C>> = [];
  /** A batch is running its changes' work: what arrives now waits for the next batch. */
  private working = false;
  private inFlight = 0;

  constructor(private readonly host: SharedCommitHost<C>) {}

  run<T>(actor: Actor, work: (context: C) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ actor, work, resolve: resolve as (value: unknown) => void, reject });
      this.startNext();
    });
  }

  /** Starts a batch of whatever waits, unless one is running its work or enough are in flight. */
  private startNext(): void {
    if (this.working || this.inFlight >= MAX_IN_FLIGHT || this.waiting.length === 0) return;
    const batch = this.waiting.splice(0, MAX_BATCH);
    this.working = true;
    this.inFlight++;
    let worked = false;
    // Once the batch's work has run (or the batch ended without reaching that point), the next may start.
    const workDone = () => {
      if (!worked) this.working = false;
      worked = true;
      this.startNext();
    };
    void this.commit(batch, workDone).finally(() => {
      this.inFlight--;
      workDone();
    });
  }

  /** `workDone` is called once every change's work has run (the hooks, journal and COMMIT follow). */
  private async commit(batch: Array<Waiting<C>>, workDone: () => void): Promise<void> {
    // Alone, a change needs no savepoint: the ordinary transaction is the same thing, cheaper.
    if (batch.length === 1) {
      const [only] = batch as [Waiting<C>];
      const work = async (context: C) => {
        try {
          return await only.work(context);
        } finally {
          workDone();
        }
      };
      await this.host.runAlone(only.actor, work).then(only.resolve, only.reject);
      return;
    }
    let outcomes: Outcome[];
    try {
      outcomes = await this.host.db.transaction((tx) => this.runTogether(tx, batch, workDone));
    } catch {
      // The shared transaction failed as a whole (its journal append or COMMIT): nothing of it was
      // stored, and any change's outcome may have depended on another's, so each runs again alone.
      outcomes = batch.map(() => ({ ok: false, error: RUN_AGAIN }));
    }
    await Promise.all(
      batch.map(async (item, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) return item.resolve(outcome.value);
        if (outcome.error !== RUN_AGAIN && !this.host.isRetryable(outcome.error)) return item.reject(outcome.error);
        await this.host.runAlone(item.actor, item.work).then(item.resolve, item.reject);
      }),
    );
  }

  /**
   * Each change's work in its own savepoint, in arrival order; then the hooks once over the changes
   * that succeeded (decision 0708: the policy reads their users' state, bumps their groups and
   * writes their memberships in one statement each for the whole batch, while each change keeps
   * its own journal entries); then the journal once. A work that fails is rolled back to its
   * savepoint and fails alone. A hook that fails fails the shared transaction, and every change of
   * it runs again alone (commit()), where a failure is again that change's own.
   */
  private async runTogether(tx: Knex.Transaction, batch: ReadonlyArray<Waiting<C>>, workDone: () => void): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    const done: Array<{ changes: C['changes']; actor: Actor }> = [];
    // The savepoint ending one change and the one starting the next go in one round trip.
    let open = `SAVEPOINT ${SAVEPOINT}`;
    for (const item of batch) {
      await tx.raw(open);
      const context = this.host.contextFor(tx, item.actor);
      try {
        const value = await item.work(context);
        // Statements the work sent without waiting belong to its savepoint.
        await context.changes.settle();
        open = `RELEASE SAVEPOINT ${SAVEPOINT}; SAVEPOINT ${SAVEPOINT}`;
        outcomes.push({ ok: true, value });
        done.push({ changes: context.changes, actor: item.actor });
      } catch (error) {
        // Statements the change sent without waiting must be done before the rollback is sent.
        await context.changes.settle().catch(() => undefined);
        open = `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}; SAVEPOINT ${SAVEPOINT}`;
        outcomes.push({ ok: false, error });
      }
    }
    // The last change's savepoint ends with the rest of the transaction.
    if (outcomes.at(-1)?.ok === false) await tx.raw(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    workDone();
    await this.host.finishMany(tx, done);
    await appendJournalOfMany(
      tx,
      done.map(({ changes, actor }) => ({ actor, entries: changes.entries })),
    );
    return outcomes;
  }
}

/** Marks a change whose shared transaction failed as a whole: it runs again alone. */
const RUN_AGAIN = Symbol('run again alone');
