/**
 * Paging cursors of the ops journal API: an opaque token for "continue after entry N". Not
 * signed: it only names a position in a journal the caller may read in full anyway, and keyset
 * paging on the id stays stable while entries are appended.
 */
import { invalidCursor } from '../scim/errors.js';

export const encodeJournalCursor = (id: number) => Buffer.from(`j:${id}`).toString('base64url');

export function decodeJournalCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const match = /^j:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  // Buffer's base64url decoder skips characters it does not know; only the exact issued text counts.
  if (!match || encodeJournalCursor(Number(match[1])) !== cursor) throw invalidCursor('The cursor is not valid; use the nextCursor of the previous page, or start again without one');
  return Number(match[1]);
}
