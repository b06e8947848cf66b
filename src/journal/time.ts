/**
 * Times in journal filters: an ISO 8601 date or date-time ("2026-11-01", "2026-11-01T09:30:00Z"),
 * or a duration back from now ("90s", "30m", "12h", "7d", "2w"), as operators type them.
 */
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const RELATIVE = /^(\d{1,6})\s*([smhdw])$/i;
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

export const TIME_FORMS = 'an ISO 8601 time (2026-11-01 or 2026-11-01T09:30:00Z) or a duration back from now (30m, 12h, 7d, 2w)';

/** The instant, or undefined when the text is neither form. Dates without a zone are UTC. */
export function parseTime(text: string, now: Date = new Date()): Date | undefined {
  const value = text.trim();
  const relative = RELATIVE.exec(value);
  if (relative) return new Date(now.getTime() - Number(relative[1]) * UNIT_MS[relative[2]!.toLowerCase() as keyof typeof UNIT_MS]);
  if (!ISO.test(value)) return undefined;
  const zoned = /[T ]\d{2}:\d{2}/.test(value) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? `${value}Z` : value;
  const date = new Date(zoned.replace(' ', 'T'));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A duration such as "90d" in milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const match = RELATIVE.exec(text.trim());
  return match ? Number(match[1]) * UNIT_MS[match[2]!.toLowerCase() as keyof typeof UNIT_MS] : undefined;
}
