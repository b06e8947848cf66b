/**
 * POST /oauth/token: the client-credentials grant (RFC 6749 §4.4). The client authenticates,
 * asks for some or all of its scopes, and receives a short-lived bearer JWT signed by Roster.
 * Each issued token and each refusal is journaled under source `auth`, without the secret.
 */
import express, { Router, type ErrorRequestHandler } from 'express';
import type { Knex } from 'knex';
import { clientAddressKey } from '../auth/client-address.js';
import type { RefusedCredentials } from '../auth/refused-credentials.js';
import { grants, isScope } from '../auth/scopes.js';
import { appendJournal } from '../journal/append.js';
import { logger } from '../logging/logger.js';
import { countJournalAppends } from '../metrics/auth-metrics.js';
import type { RosterAccessTokens } from './access-tokens.js';
import { clientCredentialsOf } from './client-credentials.js';
import { authenticateClient, touchClient } from './client-store.js';
import { OAuthError, sendOAuthError } from './oauth-errors.js';

export const TOKEN_PATH = '/oauth/token';
const FORM = 'application/x-www-form-urlencoded';

/** RFC 6749 §3.2: parameters sent without a value are treated as omitted; none may repeat. */
function singleValued(raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null) return {};
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) throw new OAuthError('invalid_request', `The parameter "${name}" must not be repeated`);
    if (typeof value === 'string' && value !== '') params[name] = value;
  }
  return params;
}

function requestedScopes(requested: string | undefined, granted: readonly string[], clientId: string): string[] {
  if (requested === undefined) return [...granted];
  const scopes = [...new Set(requested.split(' ').filter(Boolean))];
  const refused = scopes.filter((scope) => !isScope(scope) || !grants(granted, scope));
  if (refused.length > 0) throw new OAuthError('invalid_scope', `This client may not request ${refused.join(', ')}; it holds ${granted.join(' ')}`, clientId);
  if (scopes.length === 0) throw new OAuthError('invalid_scope', 'The scope parameter is empty', clientId);
  return scopes;
}

export function tokenEndpoint(db: Knex, tokens: RosterAccessTokens, refusals: RefusedCredentials): Router {
  const router = Router();
  router.post(TOKEN_PATH, express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }), async (req, res, next) => {
    const requestId = String(res.locals.requestId ?? '');
    try {
      if (!req.is(FORM)) throw new OAuthError('invalid_request', `Send the token request as ${FORM}`);
      const body = singleValued(req.body);
      const credentials = clientCredentialsOf(req, body);
      if (body.grant_type === undefined) throw new OAuthError('invalid_request', 'grant_type is required (use client_credentials)', credentials.clientId);
      if (body.grant_type !== 'client_credentials') throw new OAuthError('unsupported_grant_type', `Only the client_credentials grant is supported, not "${body.grant_type.slice(0, 60)}"`, credentials.clientId);
      const client = await authenticateClient(db, credentials.clientId, credentials.secret);
      if (!client) throw new OAuthError('invalid_client', 'Unknown client, wrong secret, or revoked client', credentials.clientId);
      const scopes = requestedScopes(body.scope, client.scopes, client.clientId);
      const accessToken = await tokens.issue(client, scopes);
      await db.transaction((tx) =>
        appendJournal(tx, { name: client.name, source: 'auth', requestId }, [
          { action: 'auth.token_issued', reason: { clientId: client.clientId, scopes, method: credentials.method, expiresIn: tokens.ttlSeconds } },
        ]),
      );
      countJournalAppends('auth', 1);
      void touchClient(db, client.id).catch(() => undefined);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Pragma', 'no-cache');
      res.json({ access_token: accessToken, token_type: 'Bearer', expires_in: tokens.ttlSeconds, scope: scopes.join(' ') });
    } catch (error) {
      next(error);
    }
  });
  router.all(TOKEN_PATH, (_req, res) => {
    res.status(405).setHeader('Allow', 'POST');
    res.json({ error: 'invalid_request', error_description: 'Use POST for the token endpoint' });
  });
  router.use(TOKEN_PATH, oauthErrors(refusals));
  return router;
}

/**
 * Renders token-endpoint errors in the OAuth format (not SCIM). Each refusal is journaled or
 * counted (failure-journal.ts); an address over its refusal limit gets 429 with Retry-After.
 */
function oauthErrors({ journal, limiter }: RefusedCredentials): ErrorRequestHandler {
  return (error, req, res, next) => {
    const oauthError = asOAuthError(error);
    if (!oauthError) return next(error);
    const address = clientAddressKey(req.ip);
    const record = {
      status: oauthError.status,
      reason: oauthError.code,
      detail: oauthError.description,
      method: req.method,
      path: TOKEN_PATH,
      requestId: String(res.locals.requestId ?? ''),
      address,
      ...(oauthError.claimedClientId ? { claimed: { client_id: oauthError.claimedClientId.slice(0, 200) } } : {}),
    };
    const limit = limiter.take(address);
    if (!limit.allowed) {
      void journal.record(record, { limited: true });
      res.setHeader('Retry-After', String(limit.retryAfterSeconds));
      res.setHeader('Cache-Control', 'no-store');
      res.status(429).json({ error: 'invalid_request', error_description: `Too many refused token requests from this address; retry after ${limit.retryAfterSeconds} s` });
      return;
    }
    void journal.record(record).finally(() => sendOAuthError(res, oauthError));
  };
}

function asOAuthError(error: unknown): OAuthError | undefined {
  if (error instanceof OAuthError) return error;
  const type = (error as { type?: string }).type;
  if (type === 'entity.too.large') return new OAuthError('invalid_request', 'The token request is too large');
  if (type === 'parameters.too.many') return new OAuthError('invalid_request', 'The token request has too many parameters');
  if (type && /^(entity\.parse\.failed|encoding\.unsupported|charset\.unsupported|request\.aborted)$/.test(type)) {
    return new OAuthError('invalid_request', 'The token request body could not be read as UTF-8 form data');
  }
  if (type) logger.warn('token request body error', { type });
  return undefined;
}
