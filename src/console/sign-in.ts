/**
 * Signing in and out:
 *   GET  /console/sign-in         the choices: the company's SSO (OIDC) and, for the quick start,
 *                                 a Roster bearer token
 *   GET  /console/sign-in/oidc    starts the authorization code flow with PKCE (sign-in kept in
 *                                 console_sign_ins under its state) and redirects to the provider
 *   GET  /console/callback        the provider's redirect: code → tokens → person → session
 *   POST /console/sign-in/token   a Roster token with ops:read signs in (viewer, auditor; with
 *                                 scim:write also operator); checked by the API's authenticator
 *   POST /console/sign-out        ends the session (CSRF-checked)
 */
import { randomBytes } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import type { Authenticator } from '../auth/authenticator.js';
import { clientAddressKey } from '../auth/client-address.js';
import type { AuthFailureRecord } from '../auth/failure-journal.js';
import type { RefusedCredentials } from '../auth/refused-credentials.js';
import { KeySetUnavailable } from '../auth/jwt-failures.js';
import { grants } from '../auth/scopes.js';
import type { ConsoleRole, ConsoleSettings } from '../config/console.js';
import { appendJournal } from '../journal/append.js';
import { logger } from '../logging/logger.js';
import { html } from './html.js';
import { notice, page } from './layout.js';
import { OidcSignIn } from './oidc.js';
import { ConsoleRefusal } from './refusal.js';
import { createSession, endSession, saveSignIn, takeSignIn, type Person } from './session-store.js';
import { CONSOLE_PATH, cookieOptions, personActorName, readCookie, requireCsrf, requireSignIn, sameSecret, SESSION_COOKIE, SIGN_IN_COOKIE } from './sessions.js';

/** Issuer recorded for a person who signed in with a Roster token. */
export const TOKEN_ISSUER = 'roster-token';

/** Only a path inside the console may be returned to after sign-in (no open redirect). */
export function safeReturnPath(value: unknown): string {
  return typeof value === 'string' && /^\/console(\/|$|\?)/.test(value) && !value.includes('//') && !value.includes('\\') ? value : CONSOLE_PATH;
}

/** A token's console roles: ops:read is needed to see the console; scim:write adds operator. */
export function rolesOfScopes(scopes: readonly string[]): ConsoleRole[] {
  if (!grants(scopes, 'ops:read')) return [];
  return grants(scopes, 'scim:write') ? ['viewer', 'operator', 'auditor'] : ['viewer', 'auditor'];
}

/** The request part of a refused sign-in's journal entry (src/auth/failure-journal.ts). */
const refusal = (req: Request, res: Response) => ({ method: req.method, path: req.path, requestId: String(res.locals.requestId), address: clientAddressKey(req.ip) });

export interface SignInOptions {
  db: Knex;
  settings: ConsoleSettings;
  authenticator: Authenticator;
  publicUrl: string | undefined;
  /** The app's refused-credential limit and counting journal (decision 0420), shared with the API. */
  refusals: RefusedCredentials;
}

export function signInRouter({ db, settings, authenticator, publicUrl, refusals }: SignInOptions): Router {
  const router = Router();
  const oidc = settings.oidc ? new OidcSignIn(settings.oidc) : undefined;
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  const signInPage = (req: Request, res: Response, status: number, message?: string) => {
    const formToken = randomBytes(24).toString('base64url');
    res.cookie(SIGN_IN_COOKIE, formToken, cookieOptions(req, publicUrl, 15 * 60_000));
    const next = safeReturnPath(req.query.next ?? (req.body as Record<string, unknown> | undefined)?.next);
    const sso = oidc
      ? html`<section aria-labelledby="sso"><h2 id="sso">Company sign-in</h2><p><a href="/console/sign-in/oidc?next=${encodeURIComponent(next)}">Sign in with your company account</a></p></section>`
      : '';
    const token = settings.tokenSignIn
      ? html`<section aria-labelledby="tok"><h2 id="tok">Roster token</h2>
          <form class="stack" method="post" action="/console/sign-in/token">
            <input type="hidden" name="_sign_in" value="${formToken}"><input type="hidden" name="next" value="${next}">
            <label for="token">Bearer token (needs ops:read; scim:write also allows operator actions)</label>
            <input id="token" name="token" type="password" autocomplete="off" required class="wide">
            <div><button type="submit">Sign in with token</button></div>
          </form></section>`
      : '';
    const none = !oidc && !settings.tokenSignIn ? notice('error', 'No sign-in method is configured: set ROSTER_CONSOLE_OIDC_* or ROSTER_CONSOLE_TOKEN_SIGN_IN=on (docs/console.md).') : '';
    res.status(status).type('html').send(page({ title: 'Sign in', body: html`<div class="signin">${message ? notice('error', message) : ''}${none}${sso}${token}</div>` }).text);
  };

  const startSession = async (req: Request, res: Response, person: Person, roles: ConsoleRole[], how: string) => {
    const sessionId = await createSession(db, person, roles);
    await db.transaction((tx) =>
      appendJournal(tx, { name: personActorName(person), source: 'console', requestId: String(res.locals.requestId) }, [
        { action: 'console.signed_in', reason: { issuer: person.issuer, subject: person.subject, displayName: person.displayName, roles, method: how } },
      ]),
    );
    res.cookie(SESSION_COOKIE, sessionId, cookieOptions(req, publicUrl));
    res.clearCookie(SIGN_IN_COOKIE, cookieOptions(req, publicUrl));
  };

  router.get('/console/sign-in', (req, res) => signInPage(req, res, 200));

  router.get('/console/sign-in/oidc', async (req, res) => {
    if (!oidc) throw new ConsoleRefusal(404, 'Company sign-in is not configured (ROSTER_CONSOLE_OIDC_ISSUER)');
    let start;
    try {
      start = await oidc.start();
    } catch (error) {
      logger.warn('console OIDC discovery failed', { requestId: res.locals.requestId, error: (error as Error).message });
      return signInPage(req, res, 503, 'The sign-in provider cannot be reached now; try again shortly');
    }
    await saveSignIn(db, { state: start.state, nonce: start.nonce, codeVerifier: start.codeVerifier, returnTo: safeReturnPath(req.query.next) });
    res.redirect(303, start.url.href);
  });

  router.get('/console/callback', async (req, res) => {
    if (!oidc || !settings.oidc) throw new ConsoleRefusal(404, 'Company sign-in is not configured (ROSTER_CONSOLE_OIDC_ISSUER)');
    if (typeof req.query.error === 'string') {
      const detail = typeof req.query.error_description === 'string' ? `: ${req.query.error_description.slice(0, 200)}` : '';
      return signInPage(req, res, 401, `The provider did not sign you in (${req.query.error.slice(0, 50)}${detail})`);
    }
    const pending = typeof req.query.state === 'string' ? await takeSignIn(db, req.query.state) : undefined;
    if (!pending) return signInPage(req, res, 400, 'That sign-in has expired or was already used; start again');
    const callbackUrl = new URL(settings.oidc.redirectUri);
    callbackUrl.search = new URL(req.originalUrl, 'http://x').search;
    let person;
    try {
      person = await oidc.finish(callbackUrl, pending);
    } catch (error) {
      logger.warn('console OIDC sign-in failed', { requestId: res.locals.requestId, error: (error as Error).message });
      await refusals.journal.record({ ...refusal(req, res), status: 401, reason: 'invalid_token', detail: 'console OIDC sign-in: the provider\'s answer did not check out', claimed: { iss: settings.oidc.issuer } });
      return signInPage(req, res, 401, 'The sign-in could not be completed (the provider\'s answer did not check out); start again');
    }
    if (person.roles.length === 0) {
      await refusals.journal.record({ ...refusal(req, res), status: 403, reason: 'insufficient_scope', detail: `console sign-in: no value of the ${settings.oidc.rolesClaim} claim maps to a console role`, actor: personActorName(person) });
      return signInPage(req, res, 403, `${person.displayName} has no console role: none of the values of your "${settings.oidc.rolesClaim}" claim is mapped in ROSTER_CONSOLE_ROLE_MAP. Ask Roster's administrators.`);
    }
    await startSession(req, res, person, person.roles, 'oidc');
    res.redirect(303, pending.returnTo);
  });

  router.post('/console/sign-in/token', form, async (req, res) => {
    if (!settings.tokenSignIn) throw new ConsoleRefusal(404, 'Sign-in with a Roster token is switched off (ROSTER_CONSOLE_TOKEN_SIGN_IN=off)');
    const body = req.body as Record<string, unknown>;
    const formCookie = readCookie(req, SIGN_IN_COOKIE);
    if (!formCookie || !sameSecret(body._sign_in, formCookie)) {
      return signInPage(req, res, 403, 'The sign-in form is out of date (its security token did not match): try again');
    }
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    let verified;
    try {
      verified = token && token.length <= 4096 ? await authenticator.verify(token) : undefined;
    } catch (error) {
      if (!(error instanceof KeySetUnavailable)) throw error;
      return signInPage(req, res, 503, 'The token cannot be verified now (its issuer\'s key set is unreachable); try again shortly');
    }
    if (!verified?.ok) {
      // Journaled like the API's refusals (decision 0353): the reason and hints, never the token.
      // Limited per address before anything is written, like the API's refusals (decision 0420).
      const record: AuthFailureRecord = { ...refusal(req, res), status: 401, reason: verified?.reason ?? 'missing_credentials', detail: 'console sign-in with a token refused', claimed: verified?.claimed };
      const limit = refusals.limiter.take(record.address);
      if (!limit.allowed) {
        void refusals.journal.record(record, { limited: true });
        res.setHeader('Retry-After', String(limit.retryAfterSeconds));
        return signInPage(req, res, 429, `Too many refused sign-ins from this address; try again in ${limit.retryAfterSeconds} s`);
      }
      await refusals.journal.record(record);
      return signInPage(req, res, 401, 'That token is not valid (unknown, revoked or expired)');
    }
    const roles = rolesOfScopes(verified.principal.scopes);
    if (roles.length === 0) {
      await refusals.journal.record({ ...refusal(req, res), status: 403, reason: 'insufficient_scope', detail: 'console sign-in needs ops:read', actor: verified.principal.name });
      return signInPage(req, res, 403, `The token "${verified.principal.name}" lacks the ops:read scope the console needs`);
    }
    const person = { issuer: TOKEN_ISSUER, subject: verified.principal.subject ?? verified.principal.name, displayName: verified.principal.name };
    await startSession(req, res, person, roles, 'token');
    res.redirect(303, safeReturnPath(body.next));
  });

  router.post('/console/sign-out', form, requireSignIn, requireCsrf, async (req, res) => {
    const id = readCookie(req, SESSION_COOKIE);
    if (id) await endSession(db, id);
    res.clearCookie(SESSION_COOKIE, cookieOptions(req, publicUrl));
    res.redirect(303, `${CONSOLE_PATH}/sign-in`);
  });

  return router;
}
