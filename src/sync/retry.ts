/**
 * A target's Retry-After, read (the back-off itself is src/lib/backoff.ts, shared with the write
 * path's deadlock retries).
 */
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
