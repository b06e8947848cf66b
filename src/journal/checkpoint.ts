/**
 * Signed checkpoints: what the retention purge leaves behind for each prefix of the chain it
 * removes (last position, its hash and time, how many entries), signed with HMAC-SHA256 so the
 * chain can be verified from that point on and a forged starting point is noticed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { canonicalJson } from './hash.js';
import type { JournalKey } from './key.js';

export interface Checkpoint {
  id: number;
  createdAt: Date;
  throughSeq: number;
  throughHash: string;
  throughAt: Date;
  entriesRemoved: number;
  cutoff: Date;
  keyId: string;
  signature: string;
}

type Signed = Omit<Checkpoint, 'id' | 'createdAt' | 'signature'>;

function signaturePayload(c: Signed): string {
  return canonicalJson({
    throughSeq: c.throughSeq,
    throughHash: c.throughHash,
    throughAt: c.throughAt.toISOString(),
    entriesRemoved: c.entriesRemoved,
    cutoff: c.cutoff.toISOString(),
    keyId: c.keyId,
  });
}

export function signCheckpoint(c: Signed, key: JournalKey): string {
  return createHmac('sha256', key.secret).update(signaturePayload(c)).digest('hex');
}

export function checkpointSignatureValid(c: Checkpoint, key: JournalKey): boolean {
  const expected = Buffer.from(signCheckpoint(c, key), 'hex');
  const given = Buffer.from(c.signature, 'hex');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export async function writeCheckpoint(tx: Knex.Transaction, c: Omit<Signed, 'keyId'>, key: JournalKey): Promise<void> {
  const signed: Signed = { ...c, keyId: key.id };
  await tx('journal_checkpoints').insert({
    through_seq: signed.throughSeq,
    through_hash: signed.throughHash,
    through_at: signed.throughAt,
    entries_removed: signed.entriesRemoved,
    cutoff: signed.cutoff,
    key_id: signed.keyId,
    signature: signCheckpoint(signed, key),
  });
}

interface CheckpointRow {
  id: number;
  created_at: Date;
  through_seq: number;
  through_hash: string;
  through_at: Date;
  entries_removed: number;
  cutoff: Date;
  key_id: string;
  signature: string;
}

export async function listCheckpoints(db: Knex): Promise<Checkpoint[]> {
  const rows = (await db('journal_checkpoints').orderBy('through_seq')) as CheckpointRow[];
  return rows.map((r) => ({
    id: r.id,
    createdAt: r.created_at,
    throughSeq: r.through_seq,
    throughHash: r.through_hash,
    throughAt: r.through_at,
    entriesRemoved: r.entries_removed,
    cutoff: r.cutoff,
    keyId: r.key_id,
    signature: r.signature,
  }));
}
