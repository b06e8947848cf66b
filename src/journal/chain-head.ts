/**
 * The chain head: the position and hash of the newest journal entry, one row in `journal_chain`.
 * Locking it is what serialises appends (see append.ts); `journal verify` compares the last entry
 * with it, so removing the newest entries is noticed too.
 */
import type { Knex } from 'knex';

export interface ChainHead {
  seq: number;
  hash: string;
  /** The database clock, to the millisecond, read under the lock: entry times follow chain order. */
  now: Date;
}

export async function lockChainHead(tx: Knex.Transaction): Promise<ChainHead> {
  const { rows } = (await tx.raw(
    `SELECT seq, hash, date_trunc('milliseconds', clock_timestamp()) AS now FROM journal_chain WHERE singleton FOR UPDATE`,
  )) as { rows: ChainHead[] };
  const head = rows[0];
  if (!head) throw new Error('The journal chain head is missing: run `npm run roster -- migrate`');
  return head;
}

export async function readChainHead(db: Knex): Promise<{ seq: number; hash: string } | undefined> {
  const { rows } = (await db.raw(`SELECT seq, hash FROM journal_chain WHERE singleton`)) as { rows: Array<{ seq: number; hash: string }> };
  return rows[0];
}

/** The statement that moves the head; bindings: new seq, new hash. */
export const CHAIN_HEAD_UPDATE = 'UPDATE journal_chain SET seq = ?, hash = ? WHERE singleton';
