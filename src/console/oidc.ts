/**
 * OpenID Connect sign-in with openid-client: the authorization code flow with PKCE (S256), state
 * and nonce, against the provider named by ROSTER_CONSOLE_OIDC_ISSUER (discovered once, at the
 * first sign-in, and again after a failed discovery). The person's console roles come from the
 * configured claim, read from the ID token or, when the ID token lacks it, from userinfo.
 */
import * as client from 'openid-client';
import { rolesFromClaim, type ConsoleOidcSettings, type ConsoleRole } from '../config/console.js';
import type { Person } from './session-store.js';

export interface OidcSignInStart {
  url: URL;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface OidcPerson extends Person {
  roles: ConsoleRole[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export class OidcSignIn {
  private configuration: Promise<client.Configuration> | undefined;

  constructor(private readonly settings: ConsoleOidcSettings) {}

  private discover(): Promise<client.Configuration> {
    if (!this.configuration) {
      const issuer = new URL(this.settings.issuer);
      const auth = this.settings.clientSecret ? client.ClientSecretBasic(this.settings.clientSecret) : client.None();
      // Plain http is allowed for a provider on this machine only (a test or a local dev provider).
      const execute = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname) ? [client.allowInsecureRequests] : [];
      this.configuration = client.discovery(issuer, this.settings.clientId, undefined, auth, { execute, timeout: 10 });
      this.configuration.catch(() => (this.configuration = undefined));
    }
    return this.configuration;
  }

  async start(): Promise<OidcSignInStart> {
    const configuration = await this.discover();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.settings.redirectUri,
      scope: this.settings.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, state, nonce, codeVerifier };
  }

  /** Redeems the code of the callback (its full URL); checks state, nonce, PKCE and the ID token. */
  async finish(callbackUrl: URL, expected: { state: string; nonce: string; codeVerifier: string }): Promise<OidcPerson> {
    const configuration = await this.discover();
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: expected.codeVerifier,
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    let claimValue: unknown = claims[this.settings.rolesClaim];
    let profile: Record<string, unknown> = claims;
    if (claimValue === undefined && tokens.access_token && configuration.serverMetadata().userinfo_endpoint) {
      const userInfo = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub);
      claimValue = userInfo[this.settings.rolesClaim];
      profile = { ...userInfo, ...claims };
    }
    const displayName = [profile.name, profile.preferred_username, profile.email].find((v): v is string => typeof v === 'string' && v !== '') ?? claims.sub;
    const email = typeof profile.email === 'string' && profile.email ? profile.email : undefined;
    return { issuer: claims.iss, subject: claims.sub, displayName, ...(email ? { email } : {}), roles: rolesFromClaim(claimValue, this.settings.roleMap) };
  }
}
