/**
 * Bearer authentication and scope checks. 401 carries `WWW-Authenticate: Bearer` (RFC 6750 §3)
 * with the error code; 403 names the scope that is missing.
 */
import type { Request, RequestHandler } from 'express';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { grants, type Scope } from '../auth/scopes.js';
import { ScimError } from '../scim/errors.js';

export function principalOf(req: Request): Principal {
  const principal = req.res?.locals.principal as Principal | undefined;
  if (!principal) throw new Error('principalOf called on an unauthenticated route');
  return principal;
}

function unauthorized(detail: string, error?: 'invalid_token' | 'invalid_request'): ScimError {
  const challenge = error ? `Bearer realm="roster", error="${error}"` : 'Bearer realm="roster"';
  return new ScimError(401, undefined, detail, { 'WWW-Authenticate': challenge });
}

export function authenticate(authenticator: Authenticator): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization');
    if (!header) return next(unauthorized('Authentication required: send "Authorization: Bearer <token>"'));
    const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
    if (!match) return next(unauthorized('The Authorization header must be "Bearer <token>"', 'invalid_request'));
    authenticator.authenticate(match[1]!).then(
      (principal) => {
        if (!principal) return next(unauthorized('The bearer token is not valid or has been revoked', 'invalid_token'));
        res.locals.principal = principal;
        next();
      },
      (error: unknown) => next(error),
    );
  };
}

export function requireScope(scope: Scope): RequestHandler {
  return (_req, res, next) => {
    const principal = res.locals.principal as Principal | undefined;
    if (principal && grants(principal.scopes, scope)) return next();
    next(new ScimError(403, undefined, `This token lacks the "${scope}" scope`, { 'WWW-Authenticate': `Bearer realm="roster", error="insufficient_scope", scope="${scope}"` }));
  };
}
