/**
 * RFC 6749 §5.2 token endpoint errors: JSON `{error, error_description}`, 400, or 401 with a
 * Basic challenge for `invalid_client` (the client authenticates with HTTP Basic, §2.3.1).
 */
import type { Response } from 'express';

export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope';

export class OAuthError extends Error {
  override name = 'OAuthError';

  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    /** The client_id the request named, when it named one (not a secret). */
    readonly claimedClientId?: string,
  ) {
    super(description);
  }

  get status(): number {
    return this.code === 'invalid_client' ? 401 : 400;
  }
}

export function sendOAuthError(res: Response, error: OAuthError): void {
  if (error.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="roster", charset="UTF-8"');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.status(error.status).json({ error: error.code, error_description: error.description });
}
