/**
 * How journal rows leave Roster: the JSON entry of the API, CLI and NDJSON export, and the
 * attribute-level view of what changed (one shape for users' path lists and groups' attribute
 * and membership deltas).
 */
import { diffDocuments, type AttributeChange } from '../lib/document-diff.js';
import type { EntryHeader } from './hash.js';
import { entryHeader, type JournalRow } from './row.js';

export interface JournalEntryView extends EntryHeader {
  id: number;
  seq: number | null;
  changes: unknown;
  before: unknown;
  after: unknown;
  reason: unknown;
  prevHash: string | null;
  hash: string | null;
}

export function entryView(row: JournalRow): JournalEntryView {
  return {
    id: row.id,
    seq: row.seq,
    ...entryHeader(row),
    changes: row.changes,
    before: row.before,
    after: row.after,
    reason: row.reason,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

interface MemberRef {
  value: string;
  type?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const members = (v: unknown): MemberRef[] => (Array.isArray(v) ? v.filter((m): m is MemberRef => isRecord(m) && typeof m.value === 'string') : []);
const asDocument = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});

/**
 * The attribute paths an entry changed, each with its before and/or after value. Membership
 * changes appear as `members[value eq "<id>"]` paths (added: after; removed: before).
 */
export function pathChanges(row: Pick<JournalRow, 'changes' | 'before' | 'after'>): AttributeChange[] {
  const { changes } = row;
  if (Array.isArray(changes)) {
    const listed = changes.filter((c): c is AttributeChange => isRecord(c) && typeof c.path === 'string');
    // A user create stores only what its document cannot show (a password set); the rest of its
    // path list is the document's attributes (entries written before this listed them all).
    if (row.before !== null || row.after === null) return listed;
    const derived = diffDocuments({}, asDocument(row.after));
    const paths = new Set(derived.map((c) => c.path));
    return [...derived, ...listed.filter((c) => !paths.has(c.path))];
  }
  if (isRecord(changes)) {
    const attributes = Array.isArray(changes.attributes) ? (changes.attributes as AttributeChange[]) : [];
    return [
      ...attributes,
      ...members(changes.membersAdded).map((m) => ({ path: `members[value eq "${m.value}"]`, after: m })),
      ...members(changes.membersRemoved).map((m) => ({ path: `members[value eq "${m.value}"]`, before: m })),
      ...roleChanges(changes),
    ];
  }
  if (row.before !== null || row.after !== null) return diffDocuments(asDocument(row.before), asDocument(row.after));
  return [];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((r): r is string => typeof r === 'string') : []);

/** A policy role change (`rolesAdded` / `rolesRemoved`) as `roles[value eq "<role>"]` paths. */
export function roleChanges(change: Record<string, unknown>): AttributeChange[] {
  return [
    ...strings(change.rolesAdded).map((role) => ({ path: `roles[value eq "${role}"]`, after: role })),
    ...strings(change.rolesRemoved).map((role) => ({ path: `roles[value eq "${role}"]`, before: role })),
  ];
}

/** An entry listing several users (`changes.users`, a batch's role changes) seen from one of them. */
export function userChangesFor(row: Pick<JournalRow, 'changes'>, userId: string): AttributeChange[] {
  const changes = isRecord(row.changes) ? row.changes : {};
  const own = Array.isArray(changes.users) ? changes.users.find((u) => isRecord(u) && typeof u.value === 'string' && u.value.toLowerCase() === userId) : undefined;
  return isRecord(own) ? roleChanges(own) : [];
}

/**
 * A group entry seen from one of its members: `groups[value eq "<group id>"]` added or removed
 * (the User's `groups` attribute, RFC 7643 §4.1.2).
 */
export function membershipChangesFor(row: JournalRow, memberId: string): AttributeChange[] {
  const changes = isRecord(row.changes) ? row.changes : {};
  const group = { value: row.resource_id, display: row.resource_name };
  const path = `groups[value eq "${row.resource_id}"]`;
  const hit = (list: unknown) => members(list).some((m) => m.value.toLowerCase() === memberId);
  return [...(hit(changes.membersAdded) ? [{ path, after: group }] : []), ...(hit(changes.membersRemoved) ? [{ path, before: group }] : [])];
}

/**
 * A group entry's reason seen from one of its members: a policy entry lists each member it added or
 * removed with that member's own reason (`members`); the member's history shows only its own.
 */
export function reasonFor(row: Pick<JournalRow, 'reason'>, memberId: string): unknown {
  const { reason } = row;
  if (!isRecord(reason) || !Array.isArray(reason.members)) return reason;
  return { ...reason, members: reason.members.filter((m) => isRecord(m) && typeof m.value === 'string' && m.value.toLowerCase() === memberId) };
}
