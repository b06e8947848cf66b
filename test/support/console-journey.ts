/**
 * What every console browser test does before its journeys: console settings that sign in through
 * the test's OpenID Connect provider (its `groups` claim mapped to console roles), and signing in
 * through the provider's login page as one of its accounts.
 */
import { parseRoleMap, type ConsoleSettings } from '../../src/config/console.js';
import { signInThroughProvider as signInThroughProviderAt, type TestBrowser } from './browser.js';
import type { TestOidcProvider } from './oidc-provider.js';

/** The redirect URI is set once Roster listens (the settings object is read at each sign-in): see registerRoster. */
export function oidcConsoleSettings(op: TestOidcProvider, roleMap = 'Roster-Operators=operator,Roster-Auditors=auditor,Staff=viewer'): ConsoleSettings {
  return {
    oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret, redirectUri: '', scopes: ['openid', 'profile', 'email'], rolesClaim: 'groups', roleMap: parseRoleMap(roleMap) as Map<string, never> },
    tokenSignIn: true,
    idleMs: 30 * 60_000,
    absoluteMs: 12 * 3_600_000,
  };
}

/** Points the settings and the provider's client at Roster's callback, once Roster listens at `rosterUrl`. */
export function registerRoster(op: TestOidcProvider, settings: ConsoleSettings, rosterUrl: string): void {
  settings.oidc!.redirectUri = `${rosterUrl}/console/callback`;
  op.registerClient(settings.oidc!.redirectUri);
}

/** Goes through the provider's login page as `login`; ends back in the console. */
/** Signs in through the test OIDC provider's login form (test/support/browser.ts does the clicking). */
export const signInThroughProvider = (browser: TestBrowser, rosterUrl: string, op: TestOidcProvider, login: string): Promise<void> =>
  signInThroughProviderAt(browser, rosterUrl, op.issuer, login);
