/** A stored journal row as node-postgres returns it, and the part of it the chain hash covers. */
import type { ChainedContent, EntryHeader } from './hash.js';

export interface JournalRow {
  id: number;
  seq: number | null;
  prev_hash: string | null;
  hash: string | null;
  at: Date;
  actor: string;
  source: string;
  request_id: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  resource_name: string | null;
  member_ids: string[] | null;
  before: unknown;
  after: unknown;
  changes: unknown;
  reason: unknown;
}

export const JOURNAL_COLUMNS = [
  'id', 'seq', 'prev_hash', 'hash', 'at', 'actor', 'source', 'request_id', 'action',
  'resource_type', 'resource_id', 'resource_name', 'member_ids', 'before', 'after', 'changes', 'reason',
] as const;

/** The fields every outward view of an entry shares: when, who, what, and about which resource. */
export function entryHeader(row: JournalRow): EntryHeader {
  return {
    at: row.at.toISOString(),
    actor: row.actor,
    source: row.source,
    requestId: row.request_id,
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    resourceName: row.resource_name,
  };
}

export function contentOfRow(row: JournalRow, seq: number): ChainedContent {
  return {
    seq,
    ...entryHeader(row),
    memberIds: row.member_ids,
    before: row.before,
    after: row.after,
    changes: row.changes,
    reason: row.reason,
  };
}
