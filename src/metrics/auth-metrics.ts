/** Counters for refused credentials, rate-limited requests and journal appends. */
import { Counter } from 'prom-client';
import { metricsRegistry } from './registry.js';

const authFailures = new Counter({
  name: 'roster_auth_failures_total',
  help: 'Refused credentials and token requests, by reason',
  labelNames: ['reason'] as const,
  registers: [metricsRegistry],
});

const rateLimited = new Counter({
  name: 'roster_rate_limited_total',
  help: 'Requests answered 429 because their credential exceeded its rate limit',
  registers: [metricsRegistry],
});

const journalAppends = new Counter({
  name: 'roster_journal_appends_total',
  help: 'Journal entries committed by this process, by source',
  labelNames: ['source'] as const,
  registers: [metricsRegistry],
});

export const countAuthFailure = (reason: string) => authFailures.inc({ reason });
export const countRateLimited = () => rateLimited.inc();
export const countJournalAppends = (source: string, entries: number) => {
  if (entries > 0) journalAppends.inc({ source }, entries);
};
