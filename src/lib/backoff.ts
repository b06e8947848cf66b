/**
 * When to try again. Exponential back-off with full jitter (delay drawn uniformly from
 * [0, min(max, base·2^attempt)]), so many attempts failing together do not return together. Used by
 * the outbound sync (where a target's Retry-After wins when it is longer, src/sync/retry.ts) and by
 * the write path's retries of deadlocked transactions.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(baseMs / 4, Math.round(random() * ceiling));
}
