/**
 * RFC 9865 cursors. A cursor is the position after the last row of a page (its sort key and id),
 * bound to the query it came from, and signed so a client cannot forge one. Positions are keyset
 * based, so paging is stable while writes happen (no skipped or repeated unchanged rows) and a
 * cursor never expires.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalidCursor } from './errors.js';

export interface CursorPosition {
  /** Sort key of the last row (null when it had none, or when there is no sortBy). */
  key: unknown;
  id: string;
}

// One key per process is enough: a cursor from another process fails verification and the client
// restarts paging. Processes behind a load balancer share ROSTER_CURSOR_SECRET when set.
const secret = process.env.ROSTER_CURSOR_SECRET ? Buffer.from(process.env.ROSTER_CURSOR_SECRET) : randomBytes(32);

const ISSUED_FORM = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/;

export function queryFingerprint(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

function sign(payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url').slice(0, 22);
}

export function encodeCursor(position: CursorPosition, fingerprint: string): string {
  const key = position.key instanceof Date ? { d: position.key.toISOString() } : position.key;
  const payload = Buffer.from(JSON.stringify([key, position.id, fingerprint])).toString('base64url');
  return `${payload}.${sign(payload)}`;
}

export function decodeCursor(cursor: string, fingerprint: string): CursorPosition {
  const invalid = () => invalidCursor('The cursor is not valid for this query; start again without one (cursor=)');
  // Exactly the form encodeCursor writes: base64url payload, one ".", 22 characters of signature.
  if (!ISSUED_FORM.test(cursor)) throw invalid();
  const [payload, signature] = cursor.split('.') as [string, string];
  const expected = Buffer.from(sign(payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
  const [rawKey, id, boundTo] = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as [unknown, string, string];
  if (boundTo !== fingerprint) throw invalid();
  const key = rawKey !== null && typeof rawKey === 'object' && 'd' in rawKey ? new Date(String((rawKey as { d: string }).d)) : rawKey;
  return { key, id };
}
