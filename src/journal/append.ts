/**
 * Appends journal entries, inside the caller's transaction.
 *
 * Node resolves each entry's subject names and digests the entry's body (everything but its chain
 * position and time). A small append (a SCIM request's few entries) is then one INSERT into
 * `journal_pending`, taking no lock: at COMMIT a deferred trigger in PostgreSQL locks the chain
 * head, links the entries (positions, time, hashes: format 2 in hash.ts), writes them to `journal`
 * and moves the head, so the head lock is held only while the commit runs inside the server, never
 * across a round trip to Node. A large append (a batch of an HR import, policy apply, the sync
 * appender) is linked chunk by chunk as it is sent (`journal_append_now`), so PostgreSQL stores one
 * chunk while Node digests the next; it holds the head lock from its first chunk until commit, once
 * for the whole batch. Either way a transaction's entries keep their append order, a rolled-back
 * transaction leaves nothing (positions have no gaps), and entries become visible at commit. Why:
 * docs/decisions/0303-journal-chained-at-commit.md.
 */
import type { Knex } from 'knex';
import type { Actor, JournalEntryInput } from './entry.js';
import { canonicalJson, ENTRY_BODY_COLUMNS, entryDigestOfTexts, type EntryBodyTexts } from './hash.js';
import { sealEntry } from './seal.js';
import { resolveResourceNames, memberIdsOf } from './subjects.js';

/**
 * undefined/null become SQL NULL (text null); anything else is stored as jsonb, and digested as it
 * reads back. The text is canonical JSON (keys sorted): it is what the digest covers, and since
 * jsonb keeps no key order, storing it stores the same value as any other spelling would.
 */
function jsonText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  // Plain JSON data reads back as it is (canonicalJson treats undefined as JSON does), so only
  // anything else (a Date, a toJSON, …) needs the round trip first.
  return canonicalJson(isPlainJson(value) ? value : (JSON.parse(JSON.stringify(value)) as unknown));
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
  await appendJournalOfMany(tx, [{ actor, entries }]);
}

/** Entries recorded under one actor (one request of a shared transaction, see write-path.ts). */
export interface ActorEntries {
  actor: Actor;
  entries: readonly JournalEntryInput[];
}

/**
 * Appends the entries of several actors in one go, in the order given: the names are resolved with
 * one read and the rows sent in as few statements as appendJournal would send for one actor.
 */
export async function appendJournalOfMany(tx: Knex.Transaction, groups: readonly ActorEntries[]): Promise<void> {
  const entries = groups.flatMap((group) => group.entries);
  if (entries.length === 0) return;
  // The chain trigger fires at commit; outside a transaction every statement commits at once, which
  // would work too, but a caller that passed a plain connection gets one transaction for all chunks.
  if (!(tx as { isTransaction?: boolean }).isTransaction) {
    await (tx as unknown as Knex).transaction((inner) => appendJournalOfMany(inner, groups));
    return;
  }
  const actors = groups.flatMap((group) => group.entries.map(() => group.actor));
  const names = await resolveResourceNames(tx, entries);
  // A large append goes in chunks, each sent as soon as the one before it is done while the next
  // is being digested, so PostgreSQL links one chunk while Node works on the next.
  const statement = entries.length > LINK_AT_COMMIT_UP_TO ? APPEND_NOW : INSERT_PENDING;
  let sent: Promise<unknown> = Promise.resolve();
  for (let start = 0; start < entries.length; start += APPEND_CHUNK) {
    // Let the event loop send the previous chunk (and hear back from the one before).
    if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const rows: string[] = [];
    const digests: string[] = [];
    entries.slice(start, start + APPEND_CHUNK).forEach((entry, i) => {
      const { json, digest } = pendingRow(actors[start + i]!, entry, names[start + i]);
      rows.push(json);
      digests.push(digest);
    });
    const bindings = [`[${rows.join(',')}]`, digests];
    // One statement at a time on the connection: the next goes out when the previous has finished.
    sent = sent.then(() => tx.raw(statement, bindings));
    sent.catch(() => undefined); // a failure is thrown by the await below, not reported as unhandled
  }
  await sent;
}

/** Entries per statement. */
const APPEND_CHUNK = 256;

/**
 * Appends up to this many entries are linked at commit (no lock before it). Larger ones are
 * batches, where one lock per batch costs little and linking as the chunks arrive overlaps
 * PostgreSQL's work with Node's (measured on the HR import: see decision 0303).
 */
const LINK_AT_COMMIT_UP_TO = 32;

const INSERT_PENDING = 'INSERT INTO journal_pending (entries, digests) VALUES (?::json, ?::text[])';
const APPEND_NOW = 'SELECT journal_append_now(?::jsonb, ?::text[])';

/** One entry as a JSON object of journal columns (SQL NULLs left out), and its body's digest. */
function pendingRow(actor: Actor, entry: JournalEntryInput, resourceName: string | undefined): { json: string; digest: string } {
  const scalar = (value: string | readonly string[] | null | undefined) => (value === null || value === undefined ? null : JSON.stringify(value));
  // Each field's JSON text, made once: stored as it is, and digested as the entry body (EntryBody).
  const texts: EntryBodyTexts = {
    actor: scalar(actor.name),
    source: scalar(actor.source),
    requestId: scalar(entry.requestId ?? actor.requestId),
    action: scalar(entry.action),
    resourceType: scalar(entry.resourceType),
    resourceId: scalar(entry.resourceId?.toLowerCase()),
    resourceName: scalar(resourceName),
    memberIds: scalar(memberIdsOf(entry)),
    before: jsonText(entry.before),
    after: jsonText(entry.after),
    changes: jsonText(entry.changes),
    reason: jsonText(entry.reason),
  };
  let json = '';
  for (const [field, column] of ENTRY_BODY_COLUMNS) {
    const text = texts[field];
    // A JSON null would become jsonb 'null', not SQL NULL: absent keys are NULL.
    if (text !== null) json += `${json === '' ? '' : ','}"${column}":${text}`;
  }
  const digest = entryDigestOfTexts(texts);
  // The keyed seal (seal.ts), when this process has a journal key: hex and colons only.
  const seal = sealEntry(digest);
  if (seal) json += `,"seal":"${seal}"`;
  return { json: `{${json}}`, digest };
}
