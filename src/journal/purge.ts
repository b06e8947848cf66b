/**
 * The retention purge: removes the oldest entries (those before `cutoff`), a batch per
 * transaction. Each batch is verified first (a purge must not launder tampered entries into a
 * checkpoint), then deleted under the trigger's purge permission, then recorded by a signed
 * checkpoint and a `journal.purge` entry, all in that one transaction, so a crash between batches
 * leaves a journal that still verifies.
 */
import type { Knex } from 'knex';
import type { SecretBox } from '../lib/secret-box.js';
import { appendJournal } from './append.js';
import { readChainHead } from './chain-head.js';
import { ChainWalker } from './chain-walk.js';
import { listCheckpoints, writeCheckpoint } from './checkpoint.js';
import type { Actor } from './entry.js';
import { GENESIS_HASH } from './hash.js';
import { signingKey } from './key.js';
import { JOURNAL_COLUMNS, type JournalRow } from './row.js';

export interface PurgeOptions {
  cutoff: Date;
  actor: Actor;
  keySecret?: string | undefined;
  /** Opens the stored checkpoint key when it is sealed at rest. */
  secrets?: SecretBox | undefined;
  batchSize?: number;
  onProgress?: (removed: number) => void;
}

export interface PurgeResult {
  removed: number;
  checkpoints: number;
  /** Last position removed (0 when nothing was). */
  throughSeq: number;
}

export class PurgeRefusedError extends Error {
  override name = 'PurgeRefusedError';
}

// Serialises purges across processes; appends are not blocked by it.
const PURGE_LOCK = `SELECT pg_advisory_xact_lock(hashtext('roster.journal_purge'))`;

export async function purgeJournal(db: Knex, options: PurgeOptions): Promise<PurgeResult> {
  const batchSize = options.batchSize ?? 10_000;
  const key = await signingKey(db, options.keySecret, options.secrets);
  const result: PurgeResult = { removed: 0, checkpoints: 0, throughSeq: 0 };
  for (;;) {
    const removed = await db.transaction(async (tx) => {
      await tx.raw(PURGE_LOCK);
      const latest = (await listCheckpoints(tx)).at(-1);
      const start = latest ? { seq: latest.throughSeq, hash: latest.throughHash } : { seq: 0, hash: GENESIS_HASH };
      const head = (await readChainHead(tx)) ?? { seq: 0, hash: GENESIS_HASH };
      const rows = (await tx('journal').select(JOURNAL_COLUMNS).whereNotNull('seq').where('seq', '>', start.seq).orderBy('seq').limit(batchSize)) as JournalRow[];
      const walker = new ChainWalker(start, head.seq);
      let through: JournalRow | undefined;
      for (const row of rows) {
        if (row.at >= options.cutoff) break;
        const finding = walker.check(row);
        if (finding) throw new PurgeRefusedError(`Refusing to purge: ${finding.message}. Run \`npm run roster -- journal verify\` and investigate before purging.`);
        through = row;
      }
      if (!through) return 0;
      const count = walker.checked;
      await tx.raw(`SELECT set_config('roster.journal_purge_through', ?, true)`, [String(through.seq)]);
      const deleted = await tx('journal').whereNotNull('seq').where('seq', '>', start.seq).where('seq', '<=', through.seq!).delete();
      if (deleted !== count) throw new Error(`Purge removed ${deleted} entries where ${count} were expected; nothing was removed`);
      await writeCheckpoint(tx, { throughSeq: through.seq!, throughHash: through.hash!, throughAt: through.at, entriesRemoved: count, cutoff: options.cutoff }, key);
      await appendJournal(tx, options.actor, [
        {
          action: 'journal.purge',
          reason: { cutoff: options.cutoff.toISOString(), fromSeq: start.seq + 1, throughSeq: through.seq, entriesRemoved: count, keyId: key.id },
        },
      ]);
      result.throughSeq = through.seq!;
      return count;
    });
    if (removed === 0) break;
    result.removed += removed;
    result.checkpoints += 1;
    options.onProgress?.(result.removed);
  }
  return result;
}
