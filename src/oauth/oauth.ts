/**
 * Roster as a small OAuth 2.0 authorization server for its own API: signing keys, access tokens,
 * the token endpoint and the discovery documents, built once per app and shared with the
 * Authenticator that verifies the tokens.
 */
import { Router } from 'express';
import type { Knex } from 'knex';
import type { RefusedCredentials } from '../auth/refused-credentials.js';
import type { SecretBox } from '../lib/secret-box.js';
import { RosterAccessTokens } from './access-tokens.js';
import { oauthDiscovery } from './discovery.js';
import { rosterTokenIdentity } from './issuer.js';
import { SigningKeyStore } from './signing-keys.js';
import { tokenEndpoint } from './token-endpoint.js';

export interface OAuthSettings {
  tokenTtlSeconds: number;
  keyRotationDays: number;
}

export const DEFAULT_OAUTH_SETTINGS: OAuthSettings = { tokenTtlSeconds: 900, keyRotationDays: 30 };

export interface RosterOAuth {
  keys: SigningKeyStore;
  tokens: RosterAccessTokens;
  router: Router;
}

export function createRosterOAuth(
  db: Knex,
  publicUrl: string | undefined,
  refusals: RefusedCredentials,
  settings: OAuthSettings = DEFAULT_OAUTH_SETTINGS,
  secrets?: SecretBox,
): RosterOAuth {
  const identity = rosterTokenIdentity(publicUrl);
  const keys = new SigningKeyStore(db, settings, secrets);
  const tokens = new RosterAccessTokens(db, keys, identity, settings.tokenTtlSeconds);
  const router = Router();
  router.use(tokenEndpoint(db, tokens, refusals));
  router.use(oauthDiscovery(keys, identity, publicUrl));
  return { keys, tokens, router };
}
