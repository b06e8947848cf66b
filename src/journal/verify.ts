/**
 * `journal verify`: walks the whole chain in id order, in batches (constant memory), from the
 * newest signed checkpoint (or from the first entry), and reports the first entry that was edited,
 * deleted or inserted out of band, how many entries it checked, and the head hash to write down.
 * With the journal key it also checks each entry's keyed seal (seal.ts): once entries are sealed,
 * an entry without a valid seal was not written by Roster, even if its hash link is right. With
 * heads kept outside the database (expected-heads.ts) it checks that the chain still reaches each
 * of them: a deleted tail with a rewound chain head, or a rewritten chain, no longer does.
 */
import type { Knex } from 'knex';
import type { SecretBox } from '../lib/secret-box.js';
import { readChainHead } from './chain-head.js';
import { ChainWalker, describeRow, type ChainFinding } from './chain-walk.js';
import { checkpointSignatureValid, listCheckpoints, type Checkpoint } from './checkpoint.js';
import type { ExpectedHead } from './expected-heads.js';
import { entryDigest, GENESIS_HASH } from './hash.js';
import { keyById, type JournalKey } from './key.js';
import { sealKeyIdOf, sealValid } from './seal.js';
import { bodyOfRow, JOURNAL_COLUMNS, type JournalRow } from './row.js';

export interface VerifyOptions {
  /** ROSTER_JOURNAL_KEY, when set. */
  keySecret?: string | undefined;
  /** Opens the stored checkpoint key when it is sealed at rest. */
  secrets?: SecretBox | undefined;
  /** Heads kept outside the database that the chain must still reach. */
  expectedHeads?: readonly ExpectedHead[];
  batchSize?: number;
  onProgress?: (checked: number, total: number) => void;
}

export interface VerifyReport {
  ok: boolean;
  checked: number;
  /** Where the walk started: the newest checkpoint, or the start of the chain. */
  startedAfter: { seq: number; checkpoint?: Checkpoint };
  head: { seq: number; hash: string };
  finding?: ChainFinding | { kind: 'checkpoint' | 'truncated' | 'unsealed' | 'rewound'; entryId?: number; seq?: number | null; message: string };
  /** Entries whose keyed seal was checked, and the expected heads the chain was compared with. */
  sealed: number;
  headsChecked: number;
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

/** Keys for seals, looked up once per key id (null: this process does not have it). */
class SealKeys {
  private readonly keys = new Map<string, JournalKey | null>();
  constructor(
    private readonly db: Knex,
    private readonly options: VerifyOptions,
  ) {}

  async get(keyId: string): Promise<JournalKey | null> {
    if (!this.keys.has(keyId)) this.keys.set(keyId, (await keyById(this.db, keyId, this.options.keySecret, this.options.secrets)) ?? null);
    return this.keys.get(keyId)!;
  }
}

/**
 * Checks an entry's seal. `sealedFrom` is the first sealed position seen so far (or vouched for
 * by a published head); an entry after it without a valid seal was not written by Roster.
 */
async function sealFinding(row: JournalRow, keys: SealKeys, sealedFrom: number | null): Promise<string | undefined> {
  if (!row.seal) {
    if (sealedFrom === null || row.seq === null || row.seq < sealedFrom) return undefined;
    return `${describeRow(row)} has no seal, although every entry from position ${sealedFrom} on is sealed: it was not written by Roster (appended or inserted with the public hash formula)`;
  }
  const keyId = sealKeyIdOf(row.seal);
  if (!keyId) return `${describeRow(row)} carries a malformed seal: it was forged or altered`;
  const key = await keys.get(keyId);
  if (!key) return `${describeRow(row)} is sealed with journal key ${keyId}, which this process does not have: set ROSTER_JOURNAL_KEY (or ROSTER_SECRETS_KEY) to the key in use when it was written`;
  if (!sealValid(row.seal, entryDigest(bodyOfRow(row)), key)) return `${describeRow(row)} carries a seal that does not match its content: it was forged or edited`;
  return undefined;
}

export async function verifyJournal(db: Knex, options: VerifyOptions = {}): Promise<VerifyReport> {
  const batchSize = options.batchSize ?? 5000;
  const head = (await readChainHead(db)) ?? { seq: 0, hash: GENESIS_HASH };
  const checkpoints = await listCheckpoints(db);
  const checkpoint = checkpoints.at(-1);
  const start = checkpoint ? { seq: checkpoint.throughSeq, hash: checkpoint.throughHash } : { seq: 0, hash: GENESIS_HASH };
  const expected = options.expectedHeads ?? [];
  const expectedAt = new Map<number, ExpectedHead>();
  for (const h of expected) if (h.seq > start.seq) expectedAt.set(h.seq, h);
  let sealed = 0;
  let headsChecked = 0;
  const report = (rest: Pick<VerifyReport, 'ok' | 'checked'> & Partial<VerifyReport>): VerifyReport => ({
    startedAfter: { seq: start.seq, ...(checkpoint ? { checkpoint } : {}) },
    head,
    sealed,
    headsChecked,
    ...rest,
  });

  const checkpointProblem = await checkCheckpoints(db, checkpoints, options.keySecret, options.secrets);
  if (checkpointProblem) return report({ ok: false, checked: 0, finding: { kind: 'checkpoint', message: checkpointProblem } });

  // A head at the purge checkpoint's position can be compared with it; older ones no longer can.
  for (const h of expected) {
    if (h.seq !== start.seq || start.seq === 0) continue;
    headsChecked++;
    if (h.hash !== start.hash) {
      return report({ ok: false, checked: 0, finding: { kind: 'rewound', seq: h.seq, message: `the purge checkpoint at position ${h.seq} does not match ${h.origin}: the chain was rewritten before it` } });
    }
  }

  const keys = new SealKeys(db, options);
  let sealedFrom = expected.reduce<number | null>((first, h) => (h.sealedFrom !== null && (first === null || h.sealedFrom < first) ? h.sealedFrom : first), null);
  const walker = new ChainWalker(start, head.seq);
  const total = Math.max(0, head.seq - start.seq);
  let afterId = 0;
  for (;;) {
    const rows = (await db('journal').select(JOURNAL_COLUMNS).where('id', '>', afterId).orderBy('id').limit(batchSize)) as JournalRow[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const finding = walker.check(row);
      if (finding) return report({ ok: false, checked: walker.checked, finding });
      const unsealed = await sealFinding(row, keys, sealedFrom);
      if (unsealed) return report({ ok: false, checked: walker.checked, finding: { kind: 'unsealed', entryId: row.id, seq: row.seq, message: unsealed } });
      if (row.seal) {
        sealed++;
        if (sealedFrom === null || row.seq! < sealedFrom) sealedFrom = row.seq;
      }
      const published = expectedAt.get(row.seq!);
      if (published) {
        headsChecked++;
        if (published.hash !== row.hash) {
          return report({
            ok: false,
            checked: walker.checked,
            finding: { kind: 'rewound', entryId: row.id, seq: row.seq, message: `${describeRow(row)} is not the entry ${published.origin} records at position ${published.seq} (hash ${published.hash.slice(0, 16)}…): the chain was rewritten at or before it` },
          });
        }
      }
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

  // The chain head can be rewound with the entries: only a head kept elsewhere shows what is gone.
  const beyond = expected.filter((h) => h.seq > last.seq).sort((a, b) => b.seq - a.seq)[0];
  if (beyond) {
    headsChecked++;
    const missing = beyond.seq - last.seq;
    return report({
      ok: false,
      checked: walker.checked,
      finding: {
        kind: 'rewound',
        seq: last.seq,
        message: `${missing === 1 ? 'the newest entry was' : `the newest ${missing} entries were`} deleted and the chain head rewound: the journal ends at position ${last.seq}, but ${beyond.origin} records position ${beyond.seq}`,
      },
    });
  }

  // A copy of a genuine entry (with its seal) appended again shows as a repeated seal.
  const { rows: repeated } = (await db.raw(`SELECT seal, min(id) AS first, max(id) AS last FROM journal WHERE seal IS NOT NULL GROUP BY seal HAVING count(*) > 1 LIMIT 1`)) as {
    rows: Array<{ first: string; last: string }>;
  };
  if (repeated[0]) {
    return report({
      ok: false,
      checked: walker.checked,
      finding: { kind: 'unsealed', entryId: Number(repeated[0].last), message: `entry #${repeated[0].last} repeats the seal of entry #${repeated[0].first}: it is a copy, not written by Roster` },
    });
  }
  return report({ ok: true, checked: walker.checked });
}
