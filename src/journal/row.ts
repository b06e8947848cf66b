/** A stored journal row as node-postgres returns it, and the part of it the chain hash covers. */
import { chainLink, entryDigest, hashEntry, type ChainedContent, type EntryBody, type EntryHeader } from './hash.js';

export interface JournalRow {
  id: number;
  seq: number | null;
  prev_hash: string | null;
  hash: string | null;
  /** Which hash formula the row was written with (see hash.ts). */
  chain_version: number;
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
  /** The keyed seal (seal.ts), or null for an entry written without a journal key. */
  seal?: string | null;
}

export const JOURNAL_COLUMNS = [
  'id', 'seq', 'prev_hash', 'hash', 'chain_version', 'at', 'actor', 'source', 'request_id', 'action',
  'resource_type', 'resource_id', 'resource_name', 'member_ids', 'before', 'after', 'changes', 'reason', 'seal',
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
  return { seq, ...bodyOfRow(row), at: row.at.toISOString() };
}

export function bodyOfRow(row: JournalRow): EntryBody {
  return {
    actor: row.actor,
    source: row.source,
    requestId: row.request_id,
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    resourceName: row.resource_name,
    memberIds: row.member_ids,
    before: row.before,
    after: row.after,
    changes: row.changes,
    reason: row.reason,
  };
}

/** The hash a chained row should carry, by the formula it says it was written with. */
export function expectedHash(row: JournalRow & { seq: number; prev_hash: string }): string {
  if (row.chain_version === 2) return chainLink(row.prev_hash, row.seq, row.at.getTime(), entryDigest(bodyOfRow(row)));
  return hashEntry(contentOfRow(row, row.seq), row.prev_hash);
}
