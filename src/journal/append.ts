/**
 * Appends journal entries to the hash chain, inside the caller's transaction.
 *
 * The chain head (`journal_chain`) is locked FOR UPDATE first, so appends from any number of
 * processes take chain positions one transaction at a time, and the lock is held until commit:
 * the next appender reads the head this one wrote. A rolled-back transaction leaves the head as it
 * was, so positions have no gaps. The lock is taken at the very end of the write path (after the
 * work and the hooks), which keeps the serialised part short. Why a lock and not a later "sealer":
 * docs/decisions/0300-journal-hash-chain.md.
 */
import type { Knex } from 'knex';
import type { Actor, JournalEntryInput } from './entry.js';
import { hashEntry, type ChainedContent } from './hash.js';
import { lockChainHead, CHAIN_HEAD_UPDATE } from './chain-head.js';
import { resolveResourceNames, memberIdsOf } from './subjects.js';

/** undefined/null become SQL NULL; anything else is stored as jsonb and hashed as it reads back. */
function jsonValue(value: unknown): { text: string | null; value: unknown } {
  if (value === undefined || value === null) return { text: null, value: null };
  const text = JSON.stringify(value);
  // Plain JSON data reads back as it is (canonicalJson treats undefined as JSON does), so only
  // anything else (a Date, a toJSON, …) needs the round trip.
  return { text, value: isPlainJson(value) ? value : (JSON.parse(text) as unknown) };
}

function isPlainJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) return value.every(isPlainJson);
      const prototype = Object.getPrototypeOf(value) as unknown;
      if (prototype !== Object.prototype && prototype !== null) return false;
      for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key])) return false;
      return true;
    }
    default:
      return false;
  }
}

export async function appendJournal(tx: Knex.Transaction, actor: Actor, entries: readonly JournalEntryInput[]): Promise<void> {
  if (entries.length === 0) return;
  // The head lock only serialises appends while it is held until commit: outside a transaction it
  // would be released at once, so a caller that passed a plain connection gets one here.
  if (!(tx as { isTransaction?: boolean }).isTransaction) {
    await (tx as unknown as Knex).transaction((inner) => appendJournal(inner, actor, entries));
    return;
  }
  const names = await resolveResourceNames(tx, entries);
  const head = await lockChainHead(tx);
  let seq = head.seq;
  let prevHash = head.hash;
  const at = head.now;
  const toRow = (entry: JournalEntryInput, index: number) => {
    const before = jsonValue(entry.before);
    const after = jsonValue(entry.after);
    const changes = jsonValue(entry.changes);
    const reason = jsonValue(entry.reason);
    const memberIds = memberIdsOf(entry);
    seq += 1;
    const content: ChainedContent = {
      seq,
      at: at.toISOString(),
      actor: actor.name,
      source: actor.source,
      requestId: entry.requestId ?? actor.requestId,
      action: entry.action,
      resourceType: entry.resourceType ?? null,
      resourceId: entry.resourceId?.toLowerCase() ?? null,
      resourceName: names[index] ?? null,
      memberIds,
      before: before.value,
      after: after.value,
      changes: changes.value,
      reason: reason.value,
    };
    const hash = hashEntry(content, prevHash);
    const row = {
      seq,
      prev_hash: prevHash,
      hash,
      at,
      actor: content.actor,
      source: content.source,
      request_id: content.requestId,
      action: content.action,
      resource_type: content.resourceType,
      resource_id: content.resourceId,
      resource_name: content.resourceName,
      member_ids: memberIds,
      before: before.text,
      after: after.text,
      changes: changes.text,
      reason: reason.text,
    };
    prevHash = hash;
    return row;
  };
  // The rows travel as one JSON array per statement (one parameter, however many entries); the
  // jsonb columns get the very text hashed here. A large append (a batch of an HR import: about a
  // thousand entries) goes in chunks: each statement is sent as soon as the one before it is done,
  // while the next chunk is being hashed, so PostgreSQL inserts one chunk while Node hashes the
  // next. The last statement also moves the head. One transaction: all commit together or none.
  let sent: Promise<unknown> = Promise.resolve();
  for (let start = 0; start < entries.length; start += APPEND_CHUNK) {
    // Let the event loop send the previous chunk (and hear back from the one before).
    if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const json = `[${entries.slice(start, start + APPEND_CHUNK).map((entry, i) => rowJson(toRow(entry, start + i))).join(',')}]`;
    const bindings = start + APPEND_CHUNK >= entries.length ? [json, seq, prevHash] : [json];
    const sql = bindings.length > 1 ? `WITH appended AS (${INSERT_ROWS}) ${CHAIN_HEAD_UPDATE}` : INSERT_ROWS;
    // One statement at a time on the connection: the next goes out when the previous has finished.
    sent = sent.then(() => tx.raw(sql, bindings));
    sent.catch(() => undefined); // a failure is thrown by the await below, not reported as unhandled
  }
  await sent;
}

/** Entries per INSERT statement of one append. */
const APPEND_CHUNK = 256;

const COLUMNS = ['seq', 'prev_hash', 'hash', 'at', 'actor', 'source', 'request_id', 'action', 'resource_type', 'resource_id', 'resource_name', 'member_ids', 'before', 'after', 'changes', 'reason'] as const;
const JSON_COLUMNS = new Set(['before', 'after', 'changes', 'reason']);
const INSERT_ROWS = `INSERT INTO journal (${COLUMNS.join(', ')}) SELECT ${COLUMNS.join(', ')} FROM json_populate_recordset(NULL::journal, ?::json)`;

/** A row as a JSON object; SQL NULLs are left out (a JSON null would become jsonb 'null'). */
function rowJson(row: Record<(typeof COLUMNS)[number], unknown>): string {
  const fields: string[] = [];
  for (const column of COLUMNS) {
    const value = row[column];
    if (value === null || value === undefined) continue;
    const text = JSON_COLUMNS.has(column) ? (value as string) : JSON.stringify(value instanceof Date ? value.toISOString() : value);
    fields.push(`"${column}":${text}`);
  }
  return `{${fields.join(',')}}`;
}
