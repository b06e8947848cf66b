/**
 * One token bucket per credential in PostgreSQL, so every Roster process on the database charges
 * the same bucket. One statement per request: insert a full bucket, or refill the existing one
 * for the time since its last update (capped at the burst) and take one token if there is one.
 * The row lock taken by ON CONFLICT DO UPDATE serialises concurrent requests of one credential,
 * so two processes can never both take the last token. The database clock is the only clock.
 */
import type { Knex } from 'knex';

export interface RateLimitSettings {
  /** Sustained requests per second per credential; 0 switches limiting off. */
  perSecond: number;
  /** Requests a credential may make at once after being idle. */
  burst: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Tokens left after this request. */
  remaining: number;
  /** Whole seconds until one token is available again (when refused). */
  retryAfterSeconds: number;
}

// `now()` is the statement's start; a request that waited for the row lock may start "before"
// the previous update, so the elapsed time is floored at zero and updated_at never goes back.
// In the SET list, `b` is the row as it was before this statement.
const REFILLED = `least(?::float8, b.tokens + greatest(0, extract(epoch FROM now() - b.updated_at)::float8) * ?::float8)`;
const TAKE = `
  INSERT INTO rate_limit_buckets AS b (key, tokens, allowed, updated_at)
  VALUES (?, ?::float8 - 1, true, now())
  ON CONFLICT (key) DO UPDATE SET
    tokens = CASE WHEN ${REFILLED} >= 1 THEN ${REFILLED} - 1 ELSE ${REFILLED} END,
    allowed = ${REFILLED} >= 1,
    updated_at = greatest(b.updated_at, now())
  RETURNING tokens, allowed`;

export async function takeToken(db: Knex, key: string, settings: RateLimitSettings): Promise<RateDecision> {
  const refilled = [settings.burst, settings.perSecond];
  const { rows } = await db.raw(TAKE, [key, settings.burst, ...refilled, ...refilled, ...refilled, ...refilled]);
  const row = rows[0] as { tokens: number; allowed: boolean };
  const missing = Math.max(0, 1 - row.tokens);
  return {
    allowed: row.allowed,
    remaining: Math.floor(row.tokens),
    retryAfterSeconds: row.allowed ? 0 : Math.max(1, Math.ceil(missing / settings.perSecond)),
  };
}

/** Buckets idle long enough to be full again carry no information; drop them. */
export async function pruneIdleBuckets(db: Knex, settings: RateLimitSettings): Promise<number> {
  const fullAfterSeconds = settings.burst / settings.perSecond + 60;
  return db('rate_limit_buckets').where('updated_at', '<', db.raw('now() - make_interval(secs => ?)', [fullAfterSeconds])).delete();
}
