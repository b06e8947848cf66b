/**
 * Journal entries for outbound work (source 'sync', actor `connector:<name>`). Every push attempt
 * becomes one entry whose `changes` holds connector, method, path, status, latency and outcome;
 * a dry run's entry also holds the exact body it would have sent. Bodies never carry secrets
 * (Roster never pushes passwords, and credentials travel only in headers, which are not recorded).
 *
 * Entries are buffered per unit of work and appended in one transaction (the journal's hash-chain
 * append serialises writers, so one append per request would make the chain lock the bottleneck):
 * a full sync flushes after each batch; the queue worker writes each object's entries to
 * journal_outbox and a JournalBatcher moves them onto the chain in the background, everything that
 * arrived meanwhile in one go (decision 0206).
 */
import type { Knex } from 'knex';
import { logger } from '../logging/logger.js';
import { appendJournal } from '../journal/append.js';
import type { JournalEntryInput } from '../journal/entry.js';
import type { ResourceType } from './connector.js';

export type PushOutcome = 'ok' | 'retry' | 'throttled' | 'rejected' | 'not-found' | 'conflict' | 'auth-failed' | 'transport-error' | 'dry-run';

export interface PushRecord {
  resourceType: ResourceType;
  /** Absent for requests about no single object (list pages). */
  resourceId?: string | undefined;
  /** The object's name, when the sender knows it (the journal reads it from the row otherwise). */
  resourceName?: string | undefined;
  method: string;
  path: string;
  status: number | null;
  latencyMs: number;
  outcome: PushOutcome;
  error?: string | undefined;
  /** Only for dry runs: the exact body that would have been sent. */
  body?: unknown;
}

/** A journal_outbox row's values, for a statement that writes it beside its own work. */
export interface OutboxInsert {
  actor: string;
  source: 'sync';
  requestId: string;
  /** The entries as JSON. */
  entries: string;
  /** How many entries it holds. */
  count: number;
}

export class PushJournal {
  private entries: JournalEntryInput[] = [];

  constructor(
    private readonly db: Knex,
    readonly connector: string,
    private readonly requestId: string,
    /** When given, `flush` writes the entries to the outbox for it (appended in the background) instead of appending them. */
    private readonly batcher?: JournalBatcher,
  ) {}

  push(record: PushRecord): void {
    const { resourceType, resourceId, resourceName, ...details } = record;
    this.entries.push({
      action: record.outcome === 'dry-run' ? 'sync.dry-run' : 'sync.push',
      resourceType,
      ...(resourceId ? { resourceId } : {}),
      ...(resourceId && resourceName ? { resourceName } : {}),
      changes: { connector: this.connector, ...details },
    });
  }

  /** A non-request event: parked, adopted, paused, a reference left out, full-sync summary. */
  event(action: string, details: Record<string, unknown>, resource?: { type: ResourceType; id: string; name?: string | undefined }): void {
    this.entries.push({
      action,
      ...(resource ? { resourceType: resource.type, resourceId: resource.id, ...(resource.name ? { resourceName: resource.name } : {}) } : {}),
      changes: { connector: this.connector, ...details },
    });
  }

  get pending(): number {
    return this.entries.length;
  }

  /** Forgets the buffered entries (a run that only reports keeps a count, not the entries); returns how many. */
  drop(): number {
    const dropped = this.entries.length;
    this.entries = [];
    return dropped;
  }

  /**
   * The outbox row for the entries buffered so far, for a caller that writes it in its own
   * statement (saveLink) and then calls `handedOver`. Undefined when nothing is buffered or the
   * entries are not meant for the outbox (no batcher: they are appended in `flush`).
   */
  outboxRow(): OutboxInsert | undefined {
    if (!this.batcher || this.entries.length === 0) return undefined;
    return { actor: this.batcher.actor, source: 'sync', requestId: this.requestId, entries: JSON.stringify(this.entries), count: this.entries.length };
  }

  /** The row from `outboxRow` committed: forget its entries (later ones stay for `flush`) and wake the appender. */
  handedOver(row: OutboxInsert): void {
    this.entries = this.entries.slice(row.count);
    this.batcher?.kick();
  }

  async flush(): Promise<void> {
    if (this.entries.length === 0) return;
    const entries = this.entries;
    this.entries = [];
    if (this.batcher) return this.batcher.append(this.requestId, entries);
    await this.db.transaction((tx) => appendJournal(tx, { name: `connector:${this.connector}`, source: 'sync', requestId: this.requestId }, entries));
  }
}

/**
 * How long a woken appender waits before it moves rows, so that one append (BEGIN, take, insert,
 * COMMIT with its chain link) serves the jobs of that moment rather than one each (decision 0705).
 * The entries are durable in journal_outbox meanwhile.
 */
const GATHER_MS = 20;
/** Rows moved onto the chain per append, at most. */
const BATCH_ROWS = 500;
/** A row that fails this often on its own stays in journal_outbox for an operator (logged), so it cannot block the others. */
const MAX_FAILURES = 5;

interface OutboxRow {
  id: number;
  request_id: string | null;
  entries: JournalEntryInput[];
  failures: number;
}

/**
 * The queue worker's journal for one connector in one process (decision 0206). A sync job writes
 * its entries to journal_outbox (one INSERT, no chain lock, durable before the job completes) and
 * the appender moves them onto the hash chain: every row waiting for the connector, up to
 * BATCH_ROWS, in one chain append, deleted from the outbox in the same transaction. Rows are
 * taken FOR UPDATE SKIP LOCKED, so appenders in several processes never move a row twice, and a
 * row left by a killed process is moved by the next appender to run (each worker start kicks one).
 * Every entry keeps its own job's request id.
 * After a failed append the rows go one at a time, each retried with back-off; one that still
 * fails stays in the outbox with its error, logged, and the others go on.
 * `drained()` resolves when nothing handed over by this process is waiting.
 */
export class JournalBatcher {
  private running: Promise<void> | undefined;
  private again = false;
  /** After a failure: move one row per append until the failing one is found. */
  private oneAtATime = false;
  readonly actor: string;

  constructor(
    private readonly db: Knex,
    readonly connector: string,
    /** First back-off after a failed append; doubles with each failure. */
    private readonly retryBaseMs = 1000,
  ) {
    this.actor = `connector:${connector}`;
  }

  /** Writes a job's entries to the outbox (durably), then wakes the appender. */
  async append(requestId: string, entries: JournalEntryInput[]): Promise<void> {
    if (entries.length === 0) return;
    await this.db('journal_outbox').insert({ actor: this.actor, source: 'sync', request_id: requestId, entries: JSON.stringify(entries) });
    this.kick();
  }

  /** Starts moving outbox rows onto the chain (or makes a running appender look again). */
  kick(): void {
    this.again = true;
    this.running ??= this.run().finally(() => (this.running = undefined));
  }

  /** Resolves when the appender has nothing left to move. */
  async drained(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    // Let the jobs finishing about now hand over their rows too: one chain append for them all.
    await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
    while (this.again) {
      this.again = false;
      let moved: number;
      do {
        moved = await this.moveBatch();
      } while (moved > 0);
    }
    this.oneAtATime = false;
  }

  /** Moves one batch; returns how many rows it moved (0: nothing left that can be moved). */
  private async moveBatch(): Promise<number> {
    let taken: OutboxRow[] = [];
    try {
      return await this.db.transaction(async (tx) => {
        // Taken and deleted in one statement: a failed append rolls the DELETE back with it.
        const { rows } = (await tx.raw(
          `DELETE FROM journal_outbox WHERE id IN (
             SELECT id FROM journal_outbox WHERE actor = ? AND failures < ? ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
           RETURNING id, request_id, entries, failures`,
          [this.actor, MAX_FAILURES, this.oneAtATime ? 1 : BATCH_ROWS],
        )) as { rows: OutboxRow[] };
        rows.sort((x, y) => Number(x.id) - Number(y.id));
        taken = rows;
        if (rows.length === 0) return 0;
        const entries = rows.flatMap((row) => row.entries.map((entry) => ({ ...entry, ...(row.request_id ? { requestId: row.request_id } : {}) })));
        await appendJournal(tx, { name: this.actor, source: 'sync', requestId: rows[0]!.request_id ?? '' }, entries);
        return rows.length;
      });
    } catch (error) {
      const message = (error as Error).message.split('\n')[0] ?? '';
      if (taken.length === 0) {
        // The database is not answering: the rows are safe in the outbox; the next kick moves them.
        logger.warn('sync: could not read journal_outbox; its rows wait for the next append', { connector: this.connector, error: message });
        return 0;
      }
      if (taken.length > 1) {
        // Find the row the journal refuses: retry one row at a time until the outbox is empty.
        logger.warn('sync: could not append push entries to the journal; retrying row by row', { connector: this.connector, rows: taken.length, error: message });
        this.oneAtATime = true;
        return taken.length;
      }
      const row = taken[0]!;
      const failures = row.failures + 1;
      await this.db('journal_outbox').where({ id: row.id }).update({ failures, last_error: message.slice(0, 500) }).catch(() => undefined);
      if (failures >= MAX_FAILURES) {
        logger.error('sync: push entries the journal will not take are left in journal_outbox', { connector: this.connector, outboxId: row.id, requestId: row.request_id, error: message });
        return 1;
      }
      return this.backOff(failures);
    }
  }

  private async backOff(failures: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, this.retryBaseMs * 2 ** (failures - 1)));
    return 1;
  }
}
