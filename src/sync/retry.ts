/**
 * When to try again. Exponential back-off with full jitter (delay drawn uniformly from
 * [0, min(max, base·2^attempt)]), so many objects failing together do not return together; a
 * target's Retry-After (RFC 9110 §10.2.3: seconds or an HTTP date) wins when it is longer.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(baseMs / 4, Math.round(random() * ceiling));
}

/** Milliseconds from now, or undefined when absent or unreadable. Capped at one hour. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  let ms: number | undefined;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const date = Date.parse(text);
    if (!Number.isNaN(date)) ms = Math.max(0, date - now);
  }
  return ms === undefined ? undefined : Math.min(ms, 3_600_000);
}
