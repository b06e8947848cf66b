/**
 * A SCIM 2.0 client over axios for one target. It sends one request and reports what happened,
 * without judging it: every HTTP status comes back as a result (the sync layer decides whether it
 * means retry, park or done); only transport failures (timeout, reset, refused) throw, as
 * TransportError with the error code. Bodies are SCIM JSON; the Authorization header comes from
 * the connector's AuthProvider and is never part of a result, an error or a log line.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import type { AuthProvider } from './auth.js';

export interface ScimRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path under the base URL, e.g. `/Users/abc`; query already encoded. */
  path: string;
  body?: unknown;
}

export interface ScimResponse {
  status: number;
  /** Parsed JSON body, when there was one. */
  body: unknown;
  /** Raw body text, cut to 4 KiB (for parked-object records). */
  text: string;
  retryAfter: string | undefined;
  latencyMs: number;
}

export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly code: string,
    readonly latencyMs: number,
  ) {
    super(`request failed: ${code}`);
  }
}

export interface ClientOptions {
  baseUrl: string;
  timeoutMs: number;
  auth: AuthProvider;
  /** Sockets kept open per target; matches the connector's concurrency. */
  maxSockets: number;
}

const MAX_TEXT = 4096;

export class ScimClient {
  private readonly http: AxiosInstance;

  constructor(private readonly options: ClientOptions) {
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    this.http = axios.create({
      baseURL: options.baseUrl,
      timeout: options.timeoutMs,
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false },
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
      headers: { accept: 'application/scim+json, application/json' },
    });
  }

  async send(request: ScimRequest): Promise<ScimResponse> {
    const response = await this.attempt(request);
    if (response.status !== 401) return response;
    // A cached OAuth token may have been revoked or expired early: mint a new one and try once more.
    this.options.auth.invalidate();
    return this.attempt(request);
  }

  private async attempt(request: ScimRequest): Promise<ScimResponse> {
    const started = performance.now();
    const headers: Record<string, string> = { authorization: await this.options.auth.authorization() };
    if (request.body !== undefined) headers['content-type'] = 'application/scim+json';
    try {
      const response = await this.http.request<string>({
        method: request.method,
        url: request.path,
        headers,
        ...(request.body !== undefined ? { data: JSON.stringify(request.body) } : {}),
      });
      const text = typeof response.data === 'string' ? response.data : '';
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      const retryAfter = response.headers['retry-after'];
      return {
        status: response.status,
        body,
        text: text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
        latencyMs: Math.round(performance.now() - started),
      };
    } catch (error) {
      // Only the code leaves this function: axios errors carry the request config, headers included.
      const code = (error as { code?: string }).code ?? 'ERR_NETWORK';
      throw new TransportError(code, Math.round(performance.now() - started));
    }
  }
}
