/**
 * `journal verify`: walks the whole chain in id order, in batches (constant memory), from the
 * newest signed checkpoint (or from the first entry), and reports the first entry that was edited,
 * deleted or inserted out of band, how many entries it checked, and the head hash to write down.
 */
import type { Knex } from 'knex';
import type { SecretBox } from '../secrets/secret-box.js';
import { readChainHead } from './chain-head.js';
import { ChainWalker, describeRow, type ChainFinding } from './chain-walk.js';
import { checkpointSignatureValid, listCheckpoints, type Checkpoint } from './checkpoint.js';
import { GENESIS_HASH } from './hash.js';
import { keyById } from './key.js';
import { JOURNAL_COLUMNS, type JournalRow } from './row.js';

export interface VerifyOptions {
  /** ROSTER_JOURNAL_KEY, when set. */
  keySecret?: string | undefined;
  /** Opens the stored checkpoint key when it is sealed at rest. */
  secrets?: SecretBox | undefined;
  batchSize?: number;
  onProgress?: (checked: number, total: number) => void;
}

export interface VerifyReport {
  ok: boolean;
  checked: number;
  /** Where the walk started: the newest checkpoint, or the start of the chain. */
  startedAfter: { seq: number; checkpoint?: Checkpoint };
  head: { seq: number; hash: string };
  finding?: ChainFinding | { kind: 'checkpoint' | 'truncated'; entryId?: number; seq?: number | null; message: string };
}

async function checkCheckpoints(db: Knex, checkpoints: Checkpoint[], keySecret: string | undefined, secrets: SecretBox | undefined): Promise<string | undefined> {
  for (const checkpoint of checkpoints) {
    const key = await keyById(db, checkpoint.keyId, keySecret, secrets);
    if (!key) {
      return `checkpoint #${checkpoint.id} (through position ${checkpoint.throughSeq}) is signed with key ${checkpoint.keyId}, which this process does not have: set ROSTER_JOURNAL_KEY to the key in use when it was written`;
    }
    if (!checkpointSignatureValid(checkpoint, key)) {
      return `checkpoint #${checkpoint.id} (through position ${checkpoint.throughSeq}) has an invalid signature: it was forged or altered`;
    }
  }
  return undefined;
}

export async function verifyJournal(db: Knex, options: VerifyOptions = {}): Promise<VerifyReport> {
  const batchSize = options.batchSize ?? 5000;
  const head = (await readChainHead(db)) ?? { seq: 0, hash: GENESIS_HASH };
  const checkpoints = await listCheckpoints(db);
  const checkpoint = checkpoints.at(-1);
  const start = checkpoint ? { seq: checkpoint.throughSeq, hash: checkpoint.throughHash } : { seq: 0, hash: GENESIS_HASH };
  const report = (rest: Pick<VerifyReport, 'ok' | 'checked'> & Partial<VerifyReport>): VerifyReport => ({
    startedAfter: { seq: start.seq, ...(checkpoint ? { checkpoint } : {}) },
    head,
    ...rest,
  });

  const checkpointProblem = await checkCheckpoints(db, checkpoints, options.keySecret, options.secrets);
  if (checkpointProblem) return report({ ok: false, checked: 0, finding: { kind: 'checkpoint', message: checkpointProblem } });

  const walker = new ChainWalker(start, head.seq);
  const total = Math.max(0, head.seq - start.seq);
  let afterId = 0;
  for (;;) {
    const rows = (await db('journal').select(JOURNAL_COLUMNS).where('id', '>', afterId).orderBy('id').limit(batchSize)) as JournalRow[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const finding = walker.check(row);
      if (finding) return report({ ok: false, checked: walker.checked, finding });
    }
    afterId = rows[rows.length - 1]!.id;
    options.onProgress?.(walker.checked, total);
  }

  // Every entry up to the head must be there: a shorter chain lost its newest entries.
  const last = walker.last;
  if (last.seq !== head.seq || last.hash !== head.hash) {
    const after = walker.lastRow ? `after ${describeRow(walker.lastRow)}` : 'after the starting point';
    const message =
      last.seq < head.seq
        ? `${head.seq - last.seq === 1 ? 'the newest entry was' : `the newest ${head.seq - last.seq} entries were`} deleted: the chain head records position ${head.seq}, but the journal ends at position ${last.seq} (${after})`
        : `the chain head (position ${head.seq}) does not match the last entry (position ${last.seq}): the head was altered`;
    return report({ ok: false, checked: walker.checked, finding: { kind: 'truncated', seq: last.seq, message } });
  }
  return report({ ok: true, checked: walker.checked });
}
