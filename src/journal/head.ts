/**
 * Signed journal heads (decision 0422): the chain's position and hash at a moment, and the time of
 * that entry, signed with the journal key (HMAC-SHA256), published outside PostgreSQL
 * (head-sinks.ts) so that `journal verify` can check that the chain still reaches every head it
 * once had. A database writer who deletes the newest entries and rewinds `journal_chain`, or
 * rewrites older ones and recomputes every hash, leaves a journal that verifies on its own but no
 * longer contains a published head.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { readChainHead } from './chain-head.js';
import { canonicalJson, GENESIS_HASH } from './hash.js';
import type { JournalKey } from './key.js';

export const HEAD_FORMAT = 'roster-journal-head-v1';

export interface PublishedHead {
  format: typeof HEAD_FORMAT;
  seq: number;
  hash: string;
  /** Time of the entry at `seq` (the chain's time), ISO 8601; null for an empty journal. */
  at: string | null;
  /** First position that carries a keyed seal (seal.ts); every later entry must have one. Null: none yet. */
  sealedFrom: number | null;
  publishedAt: string;
  keyId: string;
  signature: string;
}

type Unsigned = Omit<PublishedHead, 'signature'>;

const payload = (h: Unsigned) =>
  canonicalJson({ format: h.format, seq: h.seq, hash: h.hash, at: h.at, sealedFrom: h.sealedFrom, publishedAt: h.publishedAt, keyId: h.keyId });

export function signHead(head: Omit<Unsigned, 'keyId' | 'format'>, key: JournalKey): PublishedHead {
  const unsigned: Unsigned = { format: HEAD_FORMAT, ...head, keyId: key.id };
  return { ...unsigned, signature: createHmac('sha256', key.secret).update(payload(unsigned)).digest('hex') };
}

export function headSignatureValid(head: PublishedHead, key: JournalKey): boolean {
  const expected = createHmac('sha256', key.secret).update(payload(head)).digest();
  const given = Buffer.from(String(head.signature), 'hex');
  return key.id === head.keyId && expected.length === given.length && timingSafeEqual(expected, given);
}

/** The current head, signed, ready to publish. `sealedFrom` is looked up once and then remembered. */
export async function currentHead(db: Knex, key: JournalKey, known: { sealedFrom: number | null }): Promise<PublishedHead> {
  const head = (await readChainHead(db)) ?? { seq: 0, hash: GENESIS_HASH };
  const { rows } = (await db.raw(`SELECT at FROM journal WHERE seq = ?`, [head.seq])) as { rows: Array<{ at: Date }> };
  if (known.sealedFrom === null) {
    const sealed = (await db.raw(`SELECT min(seq) AS seq FROM journal WHERE seal IS NOT NULL`)) as { rows: Array<{ seq: string | null }> };
    known.sealedFrom = sealed.rows[0]?.seq == null ? null : Number(sealed.rows[0].seq);
  }
  return signHead({ seq: Number(head.seq), hash: head.hash, at: rows[0]?.at.toISOString() ?? null, sealedFrom: known.sealedFrom, publishedAt: new Date().toISOString() }, key);
}

/** Parses a head from JSON; undefined when it is not one. */
export function parseHead(value: unknown): PublishedHead | undefined {
  const h = value as Partial<PublishedHead> | null;
  if (!h || typeof h !== 'object' || h.format !== HEAD_FORMAT) return undefined;
  if (!Number.isSafeInteger(h.seq) || typeof h.hash !== 'string' || !/^[0-9a-f]{64}$/.test(h.hash)) return undefined;
  if (typeof h.keyId !== 'string' || typeof h.signature !== 'string' || typeof h.publishedAt !== 'string') return undefined;
  return { format: HEAD_FORMAT, seq: h.seq!, hash: h.hash, at: typeof h.at === 'string' ? h.at : null, sealedFrom: Number.isSafeInteger(h.sealedFrom) ? h.sealedFrom! : null, publishedAt: h.publishedAt, keyId: h.keyId, signature: h.signature };
}
