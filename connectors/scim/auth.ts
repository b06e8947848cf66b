/**
 * Outbound credentials: a static bearer token, HTTP Basic, or OAuth 2.0 client credentials
 * (RFC 6749 §4.4, client authenticated with HTTP Basic per §2.3.1). An access token is cached
 * until a minute before it expires, and dropped when the target answers 401 so the next attempt
 * mints a fresh one. Nothing here is ever logged.
 */
import axios, { type AxiosInstance } from 'axios';

/** How Roster authenticates to a target (secrets already resolved from the environment; never logged). */
export type ConnectorAuth =
  | { type: 'bearer'; token: string }
  | { type: 'basic'; username: string; password: string }
  | { type: 'oauth-client-credentials'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string | undefined };

export interface AuthProvider {
  /** The Authorization header value for the next request. */
  authorization(): Promise<string>;
  /** The target rejected the credentials: forget cached tokens. */
  invalidate(): void;
}

export class AuthError extends Error {
  override name = 'AuthError';
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

class ClientCredentials implements AuthProvider {
  private token: { value: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly config: Extract<ConnectorAuth, { type: 'oauth-client-credentials' }>,
    private readonly http: AxiosInstance,
  ) {}

  async authorization(): Promise<string> {
    if (this.token && Date.now() < this.token.expiresAt) return `Bearer ${this.token.value}`;
    this.pending ??= this.fetchToken().finally(() => (this.pending = undefined));
    return `Bearer ${await this.pending}`;
  }

  invalidate(): void {
    this.token = undefined;
  }

  private async fetchToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.config.scope) form.set('scope', this.config.scope);
    let response;
    try {
      response = await this.http.post(this.config.tokenUrl, form.toString(), {
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: basic(this.config.clientId, this.config.clientSecret) },
        validateStatus: () => true,
        responseType: 'json',
      });
    } catch (error) {
      throw new AuthError(`token endpoint unreachable (${(error as { code?: string }).code ?? 'network error'})`);
    }
    const body = response.data as { access_token?: unknown; expires_in?: unknown; error?: unknown } | undefined;
    if (response.status !== 200 || typeof body?.access_token !== 'string') {
      const code = typeof body?.error === 'string' ? ` ${body.error}` : '';
      throw new AuthError(`token endpoint answered ${response.status}${code}; check auth.clientIdEnv, auth.clientSecretEnv and auth.scope`);
    }
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    this.token = { value: body.access_token, expiresAt: Date.now() + Math.max(10, lifetime - 60) * 1000 };
    return body.access_token;
  }
}

export function createAuthProvider(auth: ConnectorAuth, http: AxiosInstance = axios.create({ timeout: 30_000 })): AuthProvider {
  switch (auth.type) {
    case 'bearer':
      return { authorization: async () => `Bearer ${auth.token}`, invalidate: () => undefined };
    case 'basic':
      return { authorization: async () => basic(auth.username, auth.password), invalidate: () => undefined };
    case 'oauth-client-credentials':
      return new ClientCredentials(auth, http);
  }
}
