/**
 * Journal entries for outbound work (source 'sync', actor `connector:<name>`). Every push attempt
 * becomes one entry whose `changes` holds connector, method, path, status, latency and outcome;
 * a dry run's entry also holds the exact body it would have sent. Bodies never carry secrets
 * (Roster never pushes passwords, and credentials travel only in headers, which are not recorded).
 *
 * Entries are buffered per unit of work and appended in one transaction (the journal's hash-chain
 * append serialises writers, so one append per request would make the chain lock the bottleneck):
 * a full sync flushes after each batch; the queue worker hands each object's entries to a
 * JournalBatcher, which appends in the background, everything that arrived meanwhile in one go
 * (decision 0206).
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
  method: string;
  path: string;
  status: number | null;
  latencyMs: number;
  outcome: PushOutcome;
  error?: string | undefined;
  /** Only for dry runs: the exact body that would have been sent. */
  body?: unknown;
}

export class PushJournal {
  private entries: JournalEntryInput[] = [];

  constructor(
    private readonly db: Knex,
    readonly connector: string,
    private readonly requestId: string,
    /** When given, `flush` hands the entries to it (appended in the background) instead of appending them. */
    private readonly batcher?: JournalBatcher,
  ) {}

  push(record: PushRecord): void {
    const { resourceType, resourceId, ...details } = record;
    this.entries.push({
      action: record.outcome === 'dry-run' ? 'sync.dry-run' : 'sync.push',
      resourceType,
      ...(resourceId ? { resourceId } : {}),
      changes: { connector: this.connector, ...details },
    });
  }

  /** A non-request event: parked, adopted, paused, full-sync summary. */
  event(action: string, details: Record<string, unknown>, resource?: { type: ResourceType; id: string }): void {
    this.entries.push({
      action,
      ...(resource ? { resourceType: resource.type, resourceId: resource.id } : {}),
      changes: { connector: this.connector, ...details },
    });
  }

  get pending(): number {
    return this.entries.length;
  }

  async flush(): Promise<void> {
    if (this.entries.length === 0) return;
    const entries = this.entries;
    this.entries = [];
    if (this.batcher) return this.batcher.append(this.requestId, entries);
    await this.db.transaction((tx) => appendJournal(tx, { name: `connector:${this.connector}`, source: 'sync', requestId: this.requestId }, entries));
  }
}

interface Pending {
  requestId: string;
  entries: JournalEntryInput[];
  /** Failed appends of this unit on its own. */
  failures: number;
}

/** Entries waiting beyond this make `append` wait for the appender (bounded memory and loss). */
const MAX_PENDING_ENTRIES = 2000;
/** A unit that fails this often on its own is dropped (logged), so it cannot block the others. */
const MAX_FAILURES = 5;
/** Request ids listed in a combined append's request id, at most. */
const MAX_IDS = 10;

/**
 * The queue worker's journal for one connector in one process (decision 0206). A sync job hands
 * its entries over and completes without waiting for the chain lock, which inbound writes hold
 * most of the time under load; a single appender per process and connector appends whatever has
 * arrived, one chain append per batch. If the process dies, entries not yet appended are lost (the
 * link state is not). When more than MAX_PENDING_ENTRIES wait, `append` waits too. A combined
 * append's request id lists the jobs it holds (`job-17,job-18`); alone, a job keeps its own.
 * After a failed append the units go one at a time, each retried with back-off; one that still
 * fails is dropped with an error in the log (as a failed per-object append was before).
 * `drained()` resolves when everything handed over is appended or dropped (the worker's stop awaits it).
 */
export class JournalBatcher {
  private pending: Pending[] = [];
  private pendingEntries = 0;
  private running: Promise<void> | undefined;
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly db: Knex,
    readonly connector: string,
    /** First back-off after a failed append; doubles with each failure. */
    private readonly retryBaseMs = 1000,
  ) {}

  async append(requestId: string, entries: JournalEntryInput[]): Promise<void> {
    if (entries.length === 0) return;
    this.pending.push({ requestId, entries, failures: 0 });
    this.pendingEntries += entries.length;
    this.running ??= this.run().finally(() => (this.running = undefined));
    if (this.pendingEntries > MAX_PENDING_ENTRIES) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when every entry handed over so far is appended (or dropped). */
  async drained(): Promise<void> {
    while (this.running) await this.running;
  }

  private done(units: Pending[]): void {
    this.pendingEntries -= units.reduce((n, u) => n + u.entries.length, 0);
    if (this.pendingEntries <= MAX_PENDING_ENTRIES) for (const wake of this.waiters.splice(0)) wake();
  }

  private async run(): Promise<void> {
    while (this.pending.length > 0) {
      const retrying = this.pending.some((p) => p.failures > 0);
      const batch = retrying ? this.pending.splice(0, 1) : this.pending.splice(0);
      const ids = [...new Set(batch.map((p) => p.requestId))];
      const requestId = ids.length > MAX_IDS ? `${ids.slice(0, MAX_IDS).join(',')},…+${ids.length - MAX_IDS}` : ids.join(',');
      const entries = batch.flatMap((p) => p.entries);
      try {
        await this.db.transaction((tx) => appendJournal(tx, { name: `connector:${this.connector}`, source: 'sync', requestId }, entries));
        this.done(batch);
      } catch (error) {
        const message = (error as Error).message;
        if (batch.length === 1 && batch[0]!.failures + 1 >= MAX_FAILURES) {
          logger.error('sync: dropped push entries the journal would not take', { connector: this.connector, requestId, entries: entries.length, error: message });
          this.done(batch);
          continue;
        }
        logger.warn('sync: could not append push entries to the journal; retrying', { connector: this.connector, entries: entries.length, error: message });
        const failures = batch.length === 1 ? batch[0]!.failures + 1 : 1;
        this.pending = [...batch.map((p) => ({ ...p, failures: Math.max(p.failures, failures) })), ...this.pending];
        await new Promise((resolve) => setTimeout(resolve, this.retryBaseMs * 2 ** (failures - 1)));
      }
    }
  }
}
