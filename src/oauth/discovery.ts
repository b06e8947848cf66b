/**
 * Public OAuth documents: the JWK set verifiers fetch (/.well-known/jwks.json, public keys only,
 * cacheable for a few minutes: a new key is published before it signs anything) and the RFC 8414
 * authorization server metadata that tells a client where the token endpoint is.
 */
import { Router } from 'express';
import { SCOPES } from '../auth/scopes.js';
import { ROSTER_SIGNING_ALGORITHM, type RosterTokenIdentity } from './issuer.js';
import type { SigningKeyStore } from './signing-keys.js';
import { TOKEN_PATH } from './token-endpoint.js';

export const JWKS_PATH = '/.well-known/jwks.json';

export function oauthDiscovery(keys: SigningKeyStore, identity: RosterTokenIdentity, publicUrl: string | undefined): Router {
  const router = Router();
  router.get(JWKS_PATH, async (_req, res, next) => {
    try {
      // Make sure there is a key to publish even before the first token is issued.
      await keys.signingKey();
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.json({ keys: await keys.publishedKeys() });
    } catch (error) {
      next(error);
    }
  });
  router.get('/.well-known/oauth-authorization-server', (req, res) => {
    const base = publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json({
      issuer: identity.issuer,
      token_endpoint: `${base}${TOKEN_PATH}`,
      jwks_uri: `${base}${JWKS_PATH}`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: [...SCOPES],
      response_types_supported: [],
      token_endpoint_auth_signing_alg_values_supported: [ROSTER_SIGNING_ALGORITHM],
    });
  });
  return router;
}
