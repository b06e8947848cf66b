/**
 * Bearer authentication and scope checks. Failures are AuthFailure errors: 401 with
 * `WWW-Authenticate: Bearer` and the RFC 6750 error code, or 403 naming the missing scope. They
 * are journaled or counted (source `auth`, decision 0420) by `journalAuthFailures` before the error handler renders them.
 */
import type { Request, RequestHandler } from 'express';
import { AuthFailure } from '../auth/auth-failure.js';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { KeySetUnavailable } from '../auth/jwt-failures.js';
import { grants, type Scope } from '../auth/scopes.js';
import { logger } from '../logging/logger.js';
import { serviceUnavailable } from '../scim/errors.js';

export function principalOf(req: Request): Principal {
  const principal = req.res?.locals.principal as Principal | undefined;
  if (!principal) throw new Error('principalOf called on an unauthenticated route');
  return principal;
}

export function authenticate(authenticator: Authenticator): RequestHandler {
  return (req, res, next) => {
    // Remembered for metrics: Express forgets the router's mount when an error leaves it.
    res.locals.routeBase = req.baseUrl;
    const header = req.get('authorization');
    if (!header) return next(new AuthFailure(401, 'missing_credentials', 'Authentication required: send "Authorization: Bearer <token>"'));
    const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
    if (!match) return next(new AuthFailure(401, 'malformed_header', 'The Authorization header must be "Bearer <token>"'));
    authenticator.verify(match[1]!).then(
      (result) => {
        if (!result.ok) return next(new AuthFailure(401, result.reason, result.detail, { ...(result.claimed ? { claimed: result.claimed } : {}) }));
        res.locals.principal = result.principal;
        next();
      },
      (error: unknown) => {
        if (!(error instanceof KeySetUnavailable)) return next(error);
        logger.warn('JWT issuer key set unavailable', { requestId: res.locals.requestId, error: error.message });
        next(serviceUnavailable('The token cannot be verified now: the authorization server\'s key set is unreachable; retry later', '30'));
      },
    );
  };
}

export function requireScope(scope: Scope): RequestHandler {
  return (_req, res, next) => {
    const principal = res.locals.principal as Principal | undefined;
    if (principal && grants(principal.scopes, scope)) return next();
    next(new AuthFailure(403, 'insufficient_scope', `This token lacks the "${scope}" scope`, { ...(principal ? { principal: principal.name } : {}) }, { scope }));
  };
}
