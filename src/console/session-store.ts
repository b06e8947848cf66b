/**
 * The console_sessions and console_sign_ins tables (migration 20261207160000): every statement
 * that touches them. A session id is 32 random bytes; only its SHA-256 hash is stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { ConsoleRole } from '../config/console.js';

export interface Person {
  issuer: string;
  subject: string;
  displayName: string;
  /** The email claim, when the provider gave one: how the console finds the person among Roster's users. */
  email?: string | undefined;
}

export interface ConsoleSession extends Person {
  idHash: string;
  csrfToken: string;
  roles: ConsoleRole[];
  createdAt: Date;
  lastSeenAt: Date;
}

export const newSecret = (): string => randomBytes(32).toString('base64url');
const hashOf = (sessionId: string): string => createHash('sha256').update(sessionId).digest('hex');

/** Starts a session; returns the id for the cookie (shown only here). */
export async function createSession(db: Knex, person: Person, roles: readonly ConsoleRole[]): Promise<string> {
  const id = newSecret();
  await db('console_sessions').insert({
    id_hash: hashOf(id),
    csrf_token: newSecret(),
    issuer: person.issuer,
    subject: person.subject,
    display_name: person.displayName.slice(0, 200),
    email: person.email?.slice(0, 320) ?? null,
    roles: [...roles],
  });
  return id;
}

interface SessionRow {
  id_hash: string;
  csrf_token: string;
  issuer: string;
  subject: string;
  display_name: string;
  email: string | null;
  roles: ConsoleRole[];
  created_at: Date;
  last_seen_at: Date;
}

/**
 * The session for a cookie value, if it is within both limits; touches last_seen_at (the idle
 * clock) in the same statement. An expired session is deleted.
 */
export async function resumeSession(db: Knex, sessionId: string, limits: { idleMs: number; absoluteMs: number }): Promise<ConsoleSession | undefined> {
  const idHash = hashOf(sessionId);
  const { rows } = (await db.raw(
    `UPDATE console_sessions SET last_seen_at = now()
      WHERE id_hash = ?
        AND last_seen_at > now() - make_interval(secs => ?)
        AND created_at > now() - make_interval(secs => ?)
      RETURNING *`,
    [idHash, limits.idleMs / 1000, limits.absoluteMs / 1000],
  )) as { rows: SessionRow[] };
  const row = rows[0];
  if (!row) {
    await endSession(db, sessionId);
    return undefined;
  }
  return {
    idHash: row.id_hash,
    csrfToken: row.csrf_token,
    issuer: row.issuer,
    subject: row.subject,
    displayName: row.display_name,
    ...(row.email ? { email: row.email } : {}),
    roles: row.roles,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
  };
}

export async function endSession(db: Knex, sessionId: string): Promise<void> {
  await db('console_sessions').where({ id_hash: hashOf(sessionId) }).delete();
}

/** Deletes sessions past either limit and sign-ins older than 10 minutes. */
export async function sweepExpired(db: Knex, limits: { idleMs: number; absoluteMs: number }): Promise<void> {
  await db.raw(
    `DELETE FROM console_sessions WHERE last_seen_at <= now() - make_interval(secs => ?) OR created_at <= now() - make_interval(secs => ?)`,
    [limits.idleMs / 1000, limits.absoluteMs / 1000],
  );
  await db.raw(`DELETE FROM console_sign_ins WHERE created_at <= now() - interval '10 minutes'`);
  await db.raw(`DELETE FROM console_uploads WHERE created_at <= now() - interval '1 hour'`);
}

export interface Upload {
  id: string;
  fileName: string;
  csvText: string;
  columnsText: string | null;
  full: boolean;
}

/** Keeps an uploaded HR export for this session until it is applied (or an hour passes). */
export async function saveUpload(db: Knex, session: ConsoleSession, upload: Omit<Upload, 'id'>): Promise<string> {
  const id = newSecret();
  await db('console_uploads').insert({ id, session_hash: session.idHash, file_name: upload.fileName, csv_text: upload.csvText, columns_text: upload.columnsText, full_import: upload.full });
  return id;
}

/** Takes (and deletes) an upload of this session, if it is less than an hour old. */
export async function takeUpload(db: Knex, session: ConsoleSession, id: string): Promise<Upload | undefined> {
  const { rows } = (await db.raw(
    `DELETE FROM console_uploads WHERE id = ? AND session_hash = ? AND created_at > now() - interval '1 hour'
      RETURNING id, file_name, csv_text, columns_text, full_import`,
    [id, session.idHash],
  )) as { rows: Array<{ id: string; file_name: string; csv_text: string; columns_text: string | null; full_import: boolean }> };
  const row = rows[0];
  return row ? { id: row.id, fileName: row.file_name, csvText: row.csv_text, columnsText: row.columns_text, full: row.full_import } : undefined;
}

export interface PendingSignIn {
  state: string;
  codeVerifier: string;
  nonce: string;
  returnTo: string;
}

export async function saveSignIn(db: Knex, signIn: PendingSignIn): Promise<void> {
  await db('console_sign_ins').insert({ state: signIn.state, code_verifier: signIn.codeVerifier, nonce: signIn.nonce, return_to: signIn.returnTo });
}

/** Takes (and deletes) the sign-in started with this state, if it is less than 10 minutes old. */
export async function takeSignIn(db: Knex, state: string): Promise<PendingSignIn | undefined> {
  const { rows } = (await db.raw(
    `DELETE FROM console_sign_ins WHERE state = ? RETURNING state, code_verifier, nonce, return_to, created_at > now() - interval '10 minutes' AS fresh`,
    [state],
  )) as { rows: Array<{ state: string; code_verifier: string; nonce: string; return_to: string; fresh: boolean }> };
  const row = rows[0];
  if (!row?.fresh) return undefined;
  return { state: row.state, codeVerifier: row.code_verifier, nonce: row.nonce, returnTo: row.return_to };
}
