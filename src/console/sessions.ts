/**
 * Console sessions on requests: the cookie, the session it names (session-store.ts), the signed-in
 * person as a journal actor, the permission check and the CSRF check. Cookies are HttpOnly,
 * SameSite=Lax, path /console, and Secure when Roster is reached over TLS (ROSTER_PUBLIC_URL is
 * https, or the request itself came over TLS).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Knex } from 'knex';
import type { ConsoleSettings } from '../config/console.js';
import type { Actor } from '../journal/entry.js';
import { appendJournal } from '../journal/append.js';
import { logger } from '../logging/logger.js';
import { may, roleFor, type Permission } from './permissions.js';
import { ConsoleRefusal } from './refusal.js';
import { resumeSession, type ConsoleSession, type Person } from './session-store.js';

export const SESSION_COOKIE = 'roster_console';
/** Double-submit token of the sign-in forms, before there is a session to hold a CSRF token. */
export const SIGN_IN_COOKIE = 'roster_console_sign_in';
export const CONSOLE_PATH = '/console';

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return decodeURIComponent(part.slice(at + 1).trim());
  }
  return undefined;
}

export function cookieOptions(req: Request, publicUrl: string | undefined, maxAgeMs?: number) {
  const secure = req.secure || (publicUrl?.startsWith('https://') ?? false);
  return { httpOnly: true, sameSite: 'lax' as const, secure, path: CONSOLE_PATH, ...(maxAgeMs ? { maxAge: maxAgeMs } : {}) };
}

/** Loads the session named by the cookie (res.locals.consoleSession), or none. */
export function loadSession(db: Knex, settings: Pick<ConsoleSettings, 'idleMs' | 'absoluteMs'>): RequestHandler {
  return async (req, res, next) => {
    const id = readCookie(req, SESSION_COOKIE);
    if (id && id.length <= 100) {
      const session = await resumeSession(db, id, settings);
      if (session) res.locals.consoleSession = session;
    }
    next();
  };
}

export function sessionOf(res: Response): ConsoleSession | undefined {
  return res.locals.consoleSession as ConsoleSession | undefined;
}

export function signedIn(res: Response): ConsoleSession {
  const session = sessionOf(res);
  if (!session) throw new ConsoleRefusal(401, 'Sign in first');
  return session;
}

/** How a person appears in the journal: display name, then subject at issuer (unique and stable). */
export function personActorName(person: Person): string {
  return `console:${person.displayName} <${person.subject}@${person.issuer}>`;
}

export function consoleActor(res: Response): Actor {
  return { name: personActorName(signedIn(res)), source: 'console', requestId: String(res.locals.requestId) };
}

/** Every page behind sign-in: a browser without a session is sent to the sign-in page. */
export const requireSignIn: RequestHandler = (req, res, next) => {
  if (sessionOf(res)) return next();
  if (req.method === 'GET') return res.redirect(303, `${CONSOLE_PATH}/sign-in?next=${encodeURIComponent(req.originalUrl)}`);
  next(new ConsoleRefusal(401, 'Your session has ended: sign in again, then repeat the action'));
};

/** Refuses (403, journaled as auth.forbidden) a person whose roles lack the permission. */
export function requirePermission(db: Knex, permission: Permission): RequestHandler {
  return async (req, res, next) => {
    const session = signedIn(res);
    if (may(session.roles, permission)) return next();
    const actor = consoleActor(res);
    try {
      await db.transaction((tx) =>
        appendJournal(tx, actor, [{ action: 'auth.forbidden', reason: { status: 403, code: 'console_role', detail: `needs the ${roleFor(permission)} role`, method: req.method, path: req.path } }]),
      );
    } catch (error) {
      logger.error('could not journal a console refusal', { requestId: actor.requestId, error: (error as Error).message });
    }
    next(new ConsoleRefusal(403, `This needs the ${roleFor(permission)} role; you are signed in as ${session.roles.join(', ')}`));
  };
}

export function sameSecret(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Every state-changing request carries the session's CSRF token in the form field `_csrf` (or the
 * X-CSRF-Token header); without it the request is refused before anything runs.
 */
export const requireCsrf: RequestHandler = (req, res, next) => {
  const session = signedIn(res);
  const body = req.body as Record<string, unknown> | undefined;
  const given = body?._csrf ?? req.get('x-csrf-token');
  if (sameSecret(given, session.csrfToken)) return next();
  next(new ConsoleRefusal(403, 'The form is missing its security token (CSRF) or it is out of date: reload the page and try again'));
};
