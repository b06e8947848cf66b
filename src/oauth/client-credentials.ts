/**
 * Reads the client's credentials from a token request: HTTP Basic (client_secret_basic, the
 * RFC 6749 §2.3.1 default) or client_id and client_secret in the form body (client_secret_post).
 * Using both at once is refused, as §2.3 requires. Basic values are form-urlencoded before they
 * are base64-encoded, so they are decoded again here.
 */
import type { Request } from 'express';
import { OAuthError } from './oauth-errors.js';

export interface ClientCredentials {
  clientId: string;
  secret: string;
  method: 'client_secret_basic' | 'client_secret_post';
}

const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));

function fromBasic(header: string): { clientId: string; secret: string } {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) throw new OAuthError('invalid_client', 'The Authorization header must be "Basic base64(client_id:client_secret)"');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new OAuthError('invalid_client', 'The Basic credentials must be "client_id:client_secret"');
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new OAuthError('invalid_client', 'The Basic credentials are not valid form-urlencoded text');
  }
}

export function clientCredentialsOf(req: Request, body: Record<string, string>): ClientCredentials {
  const header = req.get('authorization');
  const posted = body.client_secret !== undefined;
  if (header && posted) throw new OAuthError('invalid_request', 'Send the client credentials either in the Authorization header or in the body, not both');
  if (header) return { ...fromBasic(header), method: 'client_secret_basic' };
  if (posted && body.client_id) return { clientId: body.client_id, secret: body.client_secret ?? '', method: 'client_secret_post' };
  throw new OAuthError('invalid_client', 'Client authentication is required: HTTP Basic (client_secret_basic) or client_id and client_secret in the body (client_secret_post)', body.client_id);
}
