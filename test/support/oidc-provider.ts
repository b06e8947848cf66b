/**
 * A real OpenID Connect provider on loopback for console tests: node-oidc-provider with its
 * development login page (any login and password sign in; the login names the test account),
 * one confidential client for Roster's console (authorization code, PKCE required), and accounts
 * whose `groups` claim the test chooses. Consent is granted without asking, as a company IdP does
 * for an admin-approved app.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestAccount {
  name: string;
  email: string;
  groups: string[];
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Registers the client once Roster's callback URL is known (Roster listens after this starts). */
  registerClient(redirectUri: string): void;
  close(): Promise<void>;
}

export async function startOidcProvider(accounts: Record<string, TestAccount>): Promise<TestOidcProvider> {
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end('not ready');
  };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'roster-console';
  const clientSecret = 'test-secret-' + Math.random().toString(36).slice(2);

  return {
    issuer,
    clientId,
    clientSecret,
    registerClient(redirectUri: string) {
      const provider = new Provider(issuer, {
        clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }],
        pkce: { required: () => true },
        claims: { openid: ['sub'], profile: ['name', 'groups'], email: ['email'] },
        // The claims asked for by scope go into the ID token too, as Entra ID and Okta can be set up to do.
        conformIdTokenClaims: false,
        cookies: { keys: ['roster-console-test-cookie-key'] },
        findAccount: (_ctx, id) => {
          const account = accounts[id];
          if (!account) return undefined;
          return { accountId: id, claims: () => ({ sub: id, name: account.name, email: account.email, groups: account.groups }) };
        },
        loadExistingGrant: async (ctx) => {
          const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
          if (grantId) return ctx.oidc.provider.Grant.find(grantId);
          const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
          grant.addOIDCScope('openid profile email');
          await grant.save();
          return grant;
        },
      });
      handler = provider.callback();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
