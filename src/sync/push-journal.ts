/**
 * Journal entries for outbound work (source 'sync', actor `connector:<name>`). Every push attempt
 * becomes one entry whose `changes` holds connector, method, path, status, latency and outcome;
 * a dry run's entry also holds the exact body it would have sent. Bodies never carry secrets
 * (Roster never pushes passwords, and credentials travel only in headers, which are not recorded).
 *
 * Entries are buffered per unit of work and appended in one transaction (the journal's hash-chain
 * append serialises writers, so one append per request would make the chain lock the bottleneck):
 * the worker flushes after each resource, a full sync after each batch.
 */
import type { Knex } from 'knex';
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
    await this.db.transaction((tx) => appendJournal(tx, { name: `connector:${this.connector}`, source: 'sync', requestId: this.requestId }, entries));
  }
}
