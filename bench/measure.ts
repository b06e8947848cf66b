/**
 * One load measurement with autocannon: a short warm-up whose numbers are thrown away, then a
 * fixed-duration run. Each request can be generated on the fly (path and body per request), so a
 * run can walk random ids or never repeat a userName.
 */
import autocannon, { type AutocannonRequest } from 'autocannon';

export interface RequestShape {
  method: 'GET' | 'POST' | 'PATCH';
  /** Path with query string, generated per request. */
  path: () => string;
  /** JSON body, generated per request. */
  body?: () => unknown;
}

export interface LoadOptions {
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  headers: Record<string, string>;
}

export interface Measurement {
  reqPerSec: number;
  p50: number;
  p99: number;
  requests: number;
  /** Responses that were not 2xx, plus connection errors and timeouts. */
  failures: number;
  statusCodes: Record<string, number>;
}

function toAutocannonRequest(shape: RequestShape, headers: Record<string, string>): AutocannonRequest {
  // A copy per request: autocannon writes Content-Length into the headers object it is given, which
  // would otherwise leak a stale length into later requests (GETs included) and other runs.
  const build = (): AutocannonRequest => ({
    method: shape.method,
    path: shape.path(),
    headers: { ...headers },
    ...(shape.body ? { body: JSON.stringify(shape.body()) } : {}),
  });
  return { ...build(), setupRequest: () => build() };
}

async function run(baseUrl: string, shape: RequestShape, options: LoadOptions, duration: number) {
  return autocannon({
    url: baseUrl,
    connections: options.connections,
    duration,
    pipelining: 1,
    timeout: 30,
    requests: [toAutocannonRequest(shape, options.headers)],
  });
}

export async function measure(baseUrl: string, shape: RequestShape, options: LoadOptions): Promise<Measurement> {
  if (options.warmupSeconds > 0) await run(baseUrl, shape, options, options.warmupSeconds);
  const result = await run(baseUrl, shape, options, options.durationSeconds);
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stats]) => [code, stats.count]));
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
    statusCodes,
  };
}
