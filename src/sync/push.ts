/**
 * Sends one request to a target on behalf of one local resource, and turns the answer into the
 * sync's vocabulary:
 *  - 2xx, or a status the caller said it handles (404 on delete, 409 on create): the response;
 *  - 429: RetryLater (throttled), after holding every process's requests to this target until the
 *    Retry-After time;
 *  - 5xx, timeouts, resets, refused connections, 401/403: RetryLater (unavailable/auth), counted
 *    by the circuit breaker;
 *  - any other 4xx: Rejected, carrying the request and response so the object can be parked.
 * Before sending it waits for the connector's shared rate-limit slot. Every attempt is journaled.
 * In a dry run nothing is sent: the request is journaled with its body and `undefined` returned.
 */
import type { Knex } from 'knex';
import { TransportError, type ScimRequest, type ScimResponse } from '../../connectors/scim/client.js';
import type { Connector, ResourceType } from './connector.js';
import { holdRequestsUntil, recordFailure, recordSuccess, takeRequestSlot } from './connector-state.js';
import type { PushJournal, PushOutcome } from './push-journal.js';
import { parseRetryAfter } from './retry.js';

export class RetryLater extends Error {
  override name = 'RetryLater';
  constructor(
    readonly kind: 'throttled' | 'unavailable' | 'auth' | 'busy',
    message: string,
    /** The target's own Retry-After, when it gave one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface RecordedRequest {
  method: string;
  path: string;
  body?: unknown;
}

export class Rejected extends Error {
  override name = 'Rejected';
  constructor(
    message: string,
    readonly request: RecordedRequest,
    readonly response: { status: number; body: unknown },
  ) {
    super(message);
  }
}

/** What a request is about: a type (list pages), or one object, named when the caller knows its name. */
export interface PushedResource {
  type: ResourceType;
  id?: string | undefined;
  /**
   * userName or displayName. The journal otherwise reads it from the object's row, which is gone
   * once the object was deleted in Roster: the push that deprovisions it must name it itself.
   */
  name?: string | undefined;
}

export interface PushContext {
  db: Knex;
  connector: Connector;
  journal: PushJournal;
  dryRun: boolean;
  /** Called when a success closed an open circuit: jobs that were waiting may go now. */
  onCircuitClosed?: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** last_success_at is written at most this often per process while all is well. */
const SUCCESS_WRITE_INTERVAL_MS = 1000;
const lastSuccessWrite = new Map<string, number>();
/** Connectors this process saw fail since their last recorded success. */
const failing = new Set<string>();

function scimDetail(body: unknown): string {
  const detail = (body as { detail?: unknown } | undefined)?.detail;
  return typeof detail === 'string' ? `: ${detail.slice(0, 300)}` : '';
}

export async function push(
  context: PushContext,
  resource: PushedResource,
  request: ScimRequest,
  handles: readonly number[] = [],
): Promise<ScimResponse | undefined> {
  const { connector, journal } = context;
  const base = { resourceType: resource.type, resourceId: resource.id, resourceName: resource.name, method: request.method, path: request.path };
  if (context.dryRun) {
    journal.push({ ...base, status: null, latencyMs: 0, outcome: 'dry-run', ...(request.body !== undefined ? { body: request.body } : {}) });
    return undefined;
  }
  const rate = connector.config.rateLimit.requestsPerSecond;
  if (rate !== undefined) {
    const wait = await takeRequestSlot(context.db, connector.name, rate);
    if (wait > 0) await sleep(wait);
  }

  let response: ScimResponse;
  try {
    response = await connector.client.send(request);
  } catch (error) {
    const code = error instanceof TransportError ? error.code : 'ERR_AUTH';
    const latencyMs = error instanceof TransportError ? error.latencyMs : 0;
    const message = error instanceof TransportError ? `${request.method} ${request.path}: ${code}` : `credentials: ${(error as Error).message}`;
    journal.push({ ...base, status: null, latencyMs, outcome: 'transport-error', error: code });
    await failed(context, message);
    throw new RetryLater(error instanceof TransportError ? 'unavailable' : 'auth', message);
  }

  const { status } = response;
  const record = (outcome: PushOutcome, error?: string) => journal.push({ ...base, status, latencyMs: response.latencyMs, outcome, ...(error ? { error } : {}) });

  if ((status >= 200 && status < 300) || handles.includes(status)) {
    record(status === 404 ? 'not-found' : status === 409 ? 'conflict' : 'ok');
    await succeeded(context);
    return response;
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(response.retryAfter);
    record('throttled');
    if (retryAfterMs !== undefined) await holdRequestsUntil(context.db, connector.name, new Date(Date.now() + retryAfterMs));
    throw new RetryLater('throttled', `${request.method} ${request.path}: 429 Too Many Requests`, retryAfterMs);
  }
  if (status >= 500 || status === 401 || status === 403 || status === 408) {
    const auth = status === 401 || status === 403;
    const message = auth
      ? `${request.method} ${request.path}: ${status}: the target rejected Roster's credentials; check the connector's auth settings`
      : `${request.method} ${request.path}: ${status}${scimDetail(response.body)}`;
    record(auth ? 'auth-failed' : 'retry', message);
    await failed(context, message);
    throw new RetryLater(auth ? 'auth' : 'unavailable', message, parseRetryAfter(response.retryAfter));
  }
  const message = `${request.method} ${request.path}: ${status}${scimDetail(response.body)}`;
  record('rejected', message);
  // A content rejection still proves the target is up.
  await succeeded(context);
  throw new Rejected(message, { method: request.method, path: request.path, ...(request.body !== undefined ? { body: request.body } : {}) }, {
    status,
    body: response.body ?? response.text,
  });
}

async function succeeded(context: PushContext): Promise<void> {
  const name = context.connector.name;
  const now = Date.now();
  if (!failing.has(name) && now - (lastSuccessWrite.get(name) ?? 0) < SUCCESS_WRITE_INTERVAL_MS) return;
  lastSuccessWrite.set(name, now);
  failing.delete(name);
  const closed = await recordSuccess(context.db, name);
  if (closed) await context.onCircuitClosed?.();
}

async function failed(context: PushContext, message: string): Promise<void> {
  failing.add(context.connector.name);
  await recordFailure(context.db, context.connector.name, message, context.connector.config.circuit);
}

/** Forget per-process success bookkeeping (a probe must always record its verdict). */
export function markProbe(connector: string): void {
  failing.add(connector);
}
