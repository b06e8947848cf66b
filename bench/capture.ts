/**
 * Sends one real request of each kind to Roster and keeps its response for the bare-Express
 * ceiling. A kind that does not answer 2xx stops the bench: its numbers would be meaningless.
 */
import type { CapturedResponse, RequestKind, Workload } from './requests.js';

const KEPT_HEADERS = ['content-type', 'etag', 'location'];
const REQUEST_TIMEOUT_MS = 60_000;

/** fetch, retried once after a network error (not after an HTTP error status). */
async function send(url: string, init: RequestInit, key: string): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      const message = `${key}: ${init.method} ${url} failed: ${(error as Error).message}${cause ? ` (${String(cause)})` : ''}`;
      if (attempt >= 2) throw new Error(message);
      process.stdout.write(`  ${message}; retrying once\n`);
    }
  }
}

export async function captureResponses(baseUrl: string, headers: Record<string, string>, kinds: readonly RequestKind[], w: Workload): Promise<CapturedResponse[]> {
  const captured: CapturedResponse[] = [];
  for (const kind of kinds) {
    const shape = kind.shape(w);
    const init: RequestInit = { method: shape.method, headers: { ...headers } };
    if (shape.body) init.body = JSON.stringify(shape.body());
    const started = Date.now();
    const response = await send(`${baseUrl}${shape.path()}`, init, kind.key);
    const body = await response.text();
    process.stdout.write(`  captured ${kind.key}: ${response.status} in ${Date.now() - started} ms\n`);
    if (!response.ok) throw new Error(`${kind.key}: Roster answered ${response.status}: ${body.slice(0, 500)}`);
    const kept: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) kept[name] = value;
    }
    captured.push({ key: kind.key, method: shape.method, route: kind.route, status: response.status, headers: kept, body });
  }
  return captured;
}

/** Sanity checks on captured list responses, so a broken cursor or filter is caught before timing. */
export function checkCaptured(captured: readonly CapturedResponse[]): void {
  const byKey = new Map(captured.map((c) => [c.key, c]));
  const list = (key: string) => JSON.parse(byKey.get(key)?.body ?? '{}') as { totalResults?: number; Resources?: unknown[] };
  const expectations: Array<[string, number]> = [['filter-username', 1], ['page-100', 100], ['cursor-middle', 100]];
  for (const [key, count] of expectations) {
    const got = list(key).Resources?.length;
    if (byKey.has(key) && got !== count) throw new Error(`${key}: expected ${count} resources, got ${got}`);
  }
}
