/**
 * Checks journal rows, in id order, against the chain: each must sit at the next position, link
 * to the previous entry's hash, and hash to its own stored hash. The first row that does not is
 * classified:
 *  - inserted: no chain position, a position already passed, or a position beyond the chain head;
 *  - edited: its content (or chain fields) no longer match its hash;
 *  - deleted: positions are missing before it, while it is itself intact;
 *  - replaced: it is intact but links to a different predecessor (the previous row was rewritten
 *    with a recomputed hash, or removed and substituted).
 * Used by `journal verify` and by the purge, which refuses to remove entries that do not verify.
 */
import { expectedHash, type JournalRow } from './row.js';

export type TamperKind = 'inserted' | 'edited' | 'deleted' | 'replaced';

export interface ChainFinding {
  kind: TamperKind;
  /** The row where the break shows (for `deleted`: the first surviving row after the gap). */
  entryId: number;
  seq: number | null;
  message: string;
}

export function describeRow(row: JournalRow): string {
  const what = [row.action, row.resource_type, row.resource_name ? `"${row.resource_name}"` : row.resource_id].filter(Boolean).join(' ');
  return `entry #${row.id} (position ${row.seq ?? 'none'}, ${row.at.toISOString()}, ${row.actor}: ${what})`;
}

export class ChainWalker {
  private expectedSeq: number;
  private expectedPrev: string;
  private previous: JournalRow | undefined;
  checked = 0;

  constructor(start: { seq: number; hash: string }, private readonly headSeq: number) {
    this.expectedSeq = start.seq + 1;
    this.expectedPrev = start.hash;
  }

  /** Position and hash of the last entry accepted so far. */
  get last(): { seq: number; hash: string } {
    return { seq: this.expectedSeq - 1, hash: this.expectedPrev };
  }

  get lastRow(): JournalRow | undefined {
    return this.previous;
  }

  check(row: JournalRow): ChainFinding | undefined {
    const finding = this.classify(row);
    if (finding) return finding;
    this.checked += 1;
    this.expectedSeq = row.seq! + 1;
    this.expectedPrev = row.hash!;
    this.previous = row;
    return undefined;
  }

  private classify(row: JournalRow): ChainFinding | undefined {
    const at = { entryId: row.id, seq: row.seq };
    if (row.seq === null) {
      return { kind: 'inserted', ...at, message: `${describeRow(row)} was inserted out of band: it has no chain position (it did not come through Roster's write path)` };
    }
    if (row.seq < this.expectedSeq) {
      return { kind: 'inserted', ...at, message: `${describeRow(row)} was inserted out of band: it claims position ${row.seq}, which the chain had already passed (expected ${this.expectedSeq})` };
    }
    const intact = row.hash !== null && row.prev_hash !== null && expectedHash({ ...row, seq: row.seq, prev_hash: row.prev_hash }) === row.hash;
    if (!intact) {
      if (row.seq > this.headSeq) {
        return { kind: 'inserted', ...at, message: `${describeRow(row)} was inserted out of band: its position is beyond the chain head (${this.headSeq}) and its hash does not match its content` };
      }
      return { kind: 'edited', ...at, message: `${describeRow(row)} was edited: its content no longer matches the hash written with it` };
    }
    if (row.seq > this.expectedSeq) {
      const missing = row.seq - this.expectedSeq;
      const range = missing === 1 ? `position ${this.expectedSeq} is` : `positions ${this.expectedSeq}–${row.seq - 1} are`;
      const after = this.previous ? `after entry #${this.previous.id}` : 'at the start of the chain';
      return { kind: 'deleted', ...at, message: `${missing === 1 ? 'an entry was' : `${missing} entries were`} deleted: ${range} missing ${after}; the chain resumes at ${describeRow(row)}` };
    }
    if (row.prev_hash !== this.expectedPrev) {
      const culprit = this.previous ? `${describeRow(this.previous)} was rewritten or substituted` : 'the starting point (checkpoint) was altered';
      return { kind: 'replaced', entryId: this.previous?.id ?? row.id, seq: this.previous?.seq ?? row.seq, message: `${culprit}: ${describeRow(row)} links to a different predecessor` };
    }
    return undefined;
  }
}
