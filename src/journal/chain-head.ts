/**
 * The chain head: the position and hash of the newest journal entry, one row in `journal_chain`.
 * Locking it is what serialises appends (the `journal_chain_pending` trigger does, at commit: see
 * append.ts); `journal verify` compares the last entry with it, so removing the newest entries is
 * noticed too.
 */
import type { Knex } from 'knex';

export async function readChainHead(db: Knex): Promise<{ seq: number; hash: string } | undefined> {
  const { rows } = (await db.raw(`SELECT seq, hash FROM journal_chain WHERE singleton`)) as { rows: Array<{ seq: number; hash: string }> };
  return rows[0];
}
