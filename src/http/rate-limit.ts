/**
 * Per-credential rate limiting, after authentication (the key is the principal's subject: one
 * static token, one OAuth client, one external JWT subject). Over the limit, the answer is 429
 * with Retry-After and a SCIM error body; every answer carries the bucket's state in the
 * RateLimit-Limit / RateLimit-Remaining headers so a client can slow down before it is refused.
 */
import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import type { Principal } from '../auth/authenticator.js';
import { logger } from '../logging/logger.js';
import { countRateLimited } from '../metrics/auth-metrics.js';
import { tooManyRequests } from '../scim/errors.js';
import { pruneIdleBuckets, takeToken, type RateLimitSettings } from './rate-limit-store.js';

/** About one request in this many also deletes idle buckets, so no timer is needed. */
const PRUNE_ONE_IN = 2_000;

export function rateLimit(db: Knex, settings: RateLimitSettings | undefined): RequestHandler {
  if (!settings || settings.perSecond <= 0) return (_req, _res, next) => next();
  return (_req, res, next) => {
    const principal = res.locals.principal as Principal | undefined;
    if (!principal) return next();
    const key = principal.subject ?? `name:${principal.name}`;
    takeToken(db, key, settings).then(
      (decision) => {
        res.setHeader('RateLimit-Limit', String(settings.burst));
        res.setHeader('RateLimit-Remaining', String(Math.max(0, decision.remaining)));
        if (Math.random() * PRUNE_ONE_IN < 1) {
          void pruneIdleBuckets(db, settings).catch((error: unknown) => logger.warn('rate-limit prune failed', { error: (error as Error).message }));
        }
        if (decision.allowed) return next();
        countRateLimited();
        const seconds = String(decision.retryAfterSeconds);
        next(tooManyRequests(`Too many requests for "${principal.name}": the limit is ${settings.perSecond}/s with bursts of ${settings.burst}; retry after ${seconds} s`, seconds));
      },
      (error: unknown) => next(error),
    );
  };
}
