/**
 * Refused credentials are evidence (decision 0353), but one journal row per refusal let anyone who
 * can reach the port grow the journal without bound. Now they are counted per client address,
 * status, reason and actor in windows of ROSTER_AUTH_FAILURE_JOURNAL_WINDOW_SECONDS (default one
 * minute): the first refusal of its kind in a window is journaled at once, as before (with its
 * request id and the unverified identity hints, never the credential), and the rest are kept in
 * memory and written as one entry when the window ends (count, first and last time, how many were
 * answered 429 by the per-address limit). A flood therefore writes at most two entries per kind
 * per window, and refusals over the address limit write nothing while they happen. Why:
 * docs/decisions/0420-refused-credentials-counted.md. A failure to journal is logged and does not
 * change the answer the client gets.
 */
import type { ErrorRequestHandler } from 'express';
import type { Knex } from 'knex';
import { appendJournal } from '../journal/append.js';
import { logger } from '../logging/logger.js';
import { countAuthFailure, countJournalAppends } from '../metrics/auth-metrics.js';
import { tooManyRequests, type ScimError } from '../scim/errors.js';
import type { AuthFailureReason } from './auth-failure.js';
import { AuthFailure } from './auth-failure.js';
import { clientAddressKey } from './client-address.js';
import type { RefusalLimiter } from './refusal-limiter.js';

export interface AuthFailureRecord {
  status: number;
  reason: AuthFailureReason | 'invalid_client' | 'invalid_request' | 'unsupported_grant_type' | 'invalid_scope';
  detail: string;
  method: string;
  path: string;
  requestId: string;
  /** The client address it came from (client-address.ts: an IPv6 client's /64). */
  address: string;
  /** The authenticated principal (403); a 401 is journaled as `anonymous`. */
  actor?: string | undefined;
  /** Unverified identity hints of a refused credential (kid, iss, client id); never a secret. */
  claimed?: Record<string, string> | undefined;
}

/** The refusals of one kind from one address in one window, beyond the first (journaled at once). */
interface Tally {
  windowStart: number;
  sample: AuthFailureRecord;
  count: number;
  limited: number;
  firstAt: number;
  lastAt: number;
}

/** Kinds counted per window before further new kinds are folded into one "other addresses" tally. */
const MAX_TALLIES = 1_000;
const OVERFLOW_ADDRESS = 'other addresses';

export class AuthFailureJournal {
  private readonly tallies = new Map<string, Tally>();
  private timer: NodeJS.Timeout | undefined;
  private readonly windowMs: number;

  private readonly journalEach: boolean;

  /** `windowSeconds` 0: every refusal under the address limit is journaled at once, as before 0420. */
  constructor(
    private readonly db: Knex,
    windowSeconds = 60,
  ) {
    this.journalEach = windowSeconds === 0;
    this.windowMs = (windowSeconds || 60) * 1000;
  }

  /**
   * A refusal that was answered: journaled now if it is the first of its kind in the window (the
   * promise settles when it is written), otherwise only counted. `limited` refusals (answered 429
   * by the address limit) are never written one by one.
   */
  async record(record: AuthFailureRecord, options: { limited?: boolean } = {}): Promise<void> {
    countAuthFailure(record.reason);
    if (this.journalEach && !options.limited) return this.write(record);
    const now = Date.now();
    const windowStart = now - (now % this.windowMs);
    let key = kindOf(record);
    const existing = this.tallies.get(key);
    if (existing && existing.windowStart !== windowStart) {
      this.tallies.delete(key);
      void this.writeTally(existing);
    }
    if (!this.tallies.has(key) && this.tallies.size >= MAX_TALLIES) {
      record = { ...record, address: OVERFLOW_ADDRESS, claimed: undefined };
      key = kindOf(record);
    }
    const tally = this.tallies.get(key);
    this.ensureTimer();
    if (tally) {
      tally.count += 1;
      tally.limited += options.limited ? 1 : 0;
      tally.lastAt = now;
      tally.sample = record;
      return;
    }
    const counted = options.limited || record.address === OVERFLOW_ADDRESS ? 1 : 0;
    this.tallies.set(key, { windowStart, sample: record, count: counted, limited: options.limited ? 1 : 0, firstAt: now, lastAt: now });
    if (counted === 0) await this.write(record);
  }

  /** Writes the tallies of windows that have ended (all of them with `everything`). */
  async flush(everything = false): Promise<void> {
    const now = Date.now();
    const due: Tally[] = [];
    for (const [key, tally] of this.tallies) {
      if (everything || tally.windowStart + this.windowMs <= now) {
        this.tallies.delete(key);
        due.push(tally);
      }
    }
    if (this.tallies.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    await Promise.all(due.map((tally) => this.writeTally(tally)));
  }

  /** Writes everything counted so far and stops the timer (at shutdown). */
  async close(): Promise<void> {
    await this.flush(true);
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), Math.min(this.windowMs, 60_000) / 4);
    this.timer.unref();
  }

  private async writeTally(tally: Tally): Promise<void> {
    if (tally.count === 0) return;
    const { sample } = tally;
    const windowEnd = tally.windowStart + this.windowMs;
    await this.append(sample, `auth-refusals-${new Date(tally.windowStart).toISOString()}`, {
      status: sample.status,
      code: sample.reason,
      detail: sample.detail,
      address: sample.address,
      count: tally.count,
      limited: tally.limited,
      firstAt: new Date(tally.firstAt).toISOString(),
      lastAt: new Date(tally.lastAt).toISOString(),
      window: { from: new Date(tally.windowStart).toISOString(), to: new Date(windowEnd).toISOString() },
      last: { method: sample.method, path: sample.path, requestId: sample.requestId, ...(sample.claimed ? { claimed: sample.claimed } : {}) },
    });
  }

  private async write(record: AuthFailureRecord): Promise<void> {
    await this.append(record, record.requestId, {
      status: record.status,
      code: record.reason,
      detail: record.detail,
      method: record.method,
      path: record.path,
      address: record.address,
      ...(record.claimed ? { claimed: record.claimed } : {}),
    });
  }

  private async append(record: AuthFailureRecord, requestId: string, reason: Record<string, unknown>): Promise<void> {
    try {
      await this.db.transaction((tx) =>
        appendJournal(tx, { name: record.actor ?? 'anonymous', source: 'auth', requestId }, [
          { action: record.status === 403 ? 'auth.forbidden' : 'auth.failed', reason },
        ]),
      );
      countJournalAppends('auth', 1);
    } catch (error) {
      logger.error('could not journal an auth failure', { requestId: record.requestId, error: (error as Error).message });
    }
  }
}

const kindOf = (r: AuthFailureRecord) => [r.address, r.status, r.reason, r.actor ?? ''].join('\u0000');

/**
 * Error middleware placed before the error handler: a refused credential (401) first takes from
 * its address's refusal bucket; over the limit it becomes a 429 and is only counted. Then it is
 * journaled (or counted) as above. Every error is passed on.
 */
export function journalAuthFailures(journal: AuthFailureJournal, limiter: RefusalLimiter): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (!(error instanceof AuthFailure)) return next(error);
    const address = clientAddressKey(req.ip);
    const record: AuthFailureRecord = {
      status: error.status,
      reason: error.reason,
      detail: error.detail,
      method: req.method,
      path: req.originalUrl.split('?')[0] ?? '',
      requestId: String(res.locals.requestId ?? ''),
      address,
      actor: error.context.principal,
      claimed: error.context.claimed,
    };
    // A 403 comes from an authenticated caller, already limited per credential (0352).
    const limit = error.status === 401 ? limiter.take(address) : ({ allowed: true } as const);
    if (!limit.allowed) {
      void journal.record(record, { limited: true });
      return next(tooManyRefusals(limit.retryAfterSeconds));
    }
    void journal.record(record).finally(() => next(error));
  };
}

export function tooManyRefusals(retryAfterSeconds: number): ScimError {
  const seconds = String(retryAfterSeconds);
  return tooManyRequests(`Too many refused credentials from this address; retry after ${seconds} s with a valid token`, seconds);
}
