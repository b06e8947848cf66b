/**
 * The chain hash of one journal entry. Two formats, told apart by the row's `chain_version`:
 *  - 1 (entries written before migration 000900): SHA-256 over the previous entry's hash and a
 *    canonical JSON of everything the entry says, position and time included (`hashEntry`).
 *  - 2: the entry's body (everything but position and time) is digested in Node before the chain
 *    lock (`entryDigest`); PostgreSQL links it at commit: SHA-256 over a version tag, the previous
 *    hash, the position, the time in epoch milliseconds and that digest (`chainLink`, the same
 *    formula as the `journal_chain_pending` function). Why: docs/decisions/0303-journal-chained-at-commit.md.
 * `journal verify` recomputes both from values as the database returns them, so a hash only
 * matches when not one field of the stored row differs from what was written.
 */
import { createHash } from 'node:crypto';

/** The `prev_hash` of the first entry (and of the first after a purge without a checkpoint). */
export const GENESIS_HASH = '0'.repeat(64);

/** When, who, what, and about which resource: shared by the hashed content and every outward view. */
export interface EntryHeader {
  /** ISO 8601 with milliseconds, as `Date#toISOString` renders the stored `at`. */
  at: string;
  actor: string;
  source: string;
  requestId: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  resourceName: string | null;
}

export interface ChainedContent extends EntryHeader {
  seq: number;
  memberIds: readonly string[] | null;
  before: unknown;
  after: unknown;
  changes: unknown;
  reason: unknown;
}

/**
 * JSON with object keys sorted at every level, so the same value always gives the same text
 * (jsonb reorders keys on storage). Values are JSON values read from the database.
 * The append serialises every entry of a batch (thousands for an HR import), so this is native
 * JSON.stringify with a replacer that hands it each object with its keys in sorted order: about
 * twice as fast as building the text by hand, and the text comes out flat, which makes hashing it
 * cheaper too (measured: 10–17 µs + 3–6 µs to hash, against 17–30 µs + 5–11 µs, per user document).
 * JSON.stringify always writes integer-like keys ("2", "10") first, in numeric order, so an object
 * with such a key is written by hand instead (`byHand`). Same text as before, which
 * `journal verify` depends on (test/journal-chain.test.ts compares it with the straightforward form).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  try {
    return JSON.stringify(value, withSortedKeys);
  } catch (error) {
    if (error !== INTEGER_KEY) throw error;
    return byHand(value);
  }
}

const INTEGER_KEY = Symbol('an integer-like key');

function withSortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  // Integer-like keys are always enumerated first, so the first key tells.
  if (keys.length > 0 && isIntegerLike(keys[0]!)) throw INTEGER_KEY;
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      sorted = false;
      break;
    }
  }
  if (sorted) return value;
  const copy: Record<string, unknown> = {};
  for (const key of keys.sort()) copy[key] = (value as Record<string, unknown>)[key];
  return copy;
}

/** An array-index-like key, which JavaScript objects enumerate before all others. */
function isIntegerLike(key: string): boolean {
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && n < 4294967295 && String(n) === key;
}

/** canonicalJson built by hand: for objects whose keys JSON.stringify would not keep in order. */
function byHand(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + byHand(value[i]);
    return `${text}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let text = '{';
  let first = true;
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    text += (first ? '' : ',') + quotedKey(key) + ':' + byHand(item);
    first = false;
  }
  return `${text}}`;
}

// The same few dozen keys recur in every entry; their JSON spelling is kept (bounded).
const QUOTED_KEYS = new Map<string, string>();
function quotedKey(key: string): string {
  let quoted = QUOTED_KEYS.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (QUOTED_KEYS.size < 4096) QUOTED_KEYS.set(key, quoted);
  }
  return quoted;
}

export function hashEntry(content: ChainedContent, prevHash: string): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(content)).digest('hex');
}

/** What a format-2 entry's digest covers: the entry without its chain position and time. */
export type EntryBody = Omit<ChainedContent, 'seq' | 'at'>;

/** SHA-256 (hex) of the canonical JSON of an entry's body: computed by the append, checked by verify. */
export function entryDigest(body: EntryBody): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** Each field of an entry body and the journal column it is stored in. */
export const ENTRY_BODY_COLUMNS: ReadonlyArray<readonly [keyof EntryBody, string]> = [
  ['actor', 'actor'],
  ['source', 'source'],
  ['requestId', 'request_id'],
  ['action', 'action'],
  ['resourceType', 'resource_type'],
  ['resourceId', 'resource_id'],
  ['resourceName', 'resource_name'],
  ['memberIds', 'member_ids'],
  ['before', 'before'],
  ['after', 'after'],
  ['changes', 'changes'],
  ['reason', 'reason'],
];

/** An entry body whose fields are already canonical JSON texts (null for a null field). */
export type EntryBodyTexts = Record<keyof EntryBody, string | null>;

// canonicalJson's key order for an EntryBody (every key is always present: null, never undefined).
const BODY_KEYS = ENTRY_BODY_COLUMNS.map(([field]) => field).sort();
const QUOTED_BODY_KEYS = BODY_KEYS.map((key) => JSON.stringify(key));

/**
 * entryDigest of a body given as the canonical JSON of each field: the same text canonicalJson
 * makes of the whole body, without walking the field values again. The append has these texts
 * anyway (they are what it stores), so each document is serialised once, not twice.
 * test/journal-chain.test.ts checks it against entryDigest.
 */
export function entryDigestOfTexts(texts: EntryBodyTexts): string {
  let text = '{';
  for (let i = 0; i < BODY_KEYS.length; i++) text += (i === 0 ? '' : ',') + QUOTED_BODY_KEYS[i] + ':' + (texts[BODY_KEYS[i]!] ?? 'null');
  return createHash('sha256').update(`${text}}`).digest('hex');
}

/** Tags format-2 links, so a link can never be read as some other hashed text. */
export const CHAIN_LINK_TAG = 'roster-journal-v2';

/**
 * The format-2 chain hash. Must stay the same formula as `journal_chain_pending()` in
 * migrations/20261122000900_journal_chain_at_commit.ts and 20261202000100_journal_link_large_appends.ts, which compute it in PostgreSQL.
 */
export function chainLink(prevHash: string, seq: number, atMillis: number, digest: string): string {
  return createHash('sha256').update(`${CHAIN_LINK_TAG}\n${prevHash}\n${seq}\n${atMillis}\n${digest}`).digest('hex');
}
