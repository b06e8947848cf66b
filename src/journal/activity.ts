/**
 * Recent activity from the journal, for the console's overview: changes per hour by source, and
 * each connector's push outcomes with their 95th-percentile latency. Both read only the recent
 * range of the journal_at index.
 */
import type { Knex } from 'knex';

export interface HourCount {
  hour: Date;
  source: string;
  count: number;
}

export async function changesPerHour(db: Knex, hours: number): Promise<HourCount[]> {
  const { rows } = (await db.raw(
    `SELECT date_trunc('hour', at) AS hour, source, count(*)::int AS count FROM journal
      WHERE at >= date_trunc('hour', now()) - make_interval(hours => ?)
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [hours - 1],
  )) as { rows: HourCount[] };
  return rows;
}

export interface PushOutcomeCount {
  connector: string;
  outcome: string;
  count: number;
  p95LatencyMs: number | null;
}

export async function pushOutcomes(db: Knex, hours: number): Promise<PushOutcomeCount[]> {
  const { rows } = (await db.raw(
    `SELECT changes->>'connector' AS connector, changes->>'outcome' AS outcome, count(*)::int AS count,
            round(percentile_cont(0.95) WITHIN GROUP (ORDER BY (changes->>'latencyMs')::float8))::int AS "p95LatencyMs"
       FROM journal WHERE action = 'sync.push' AND at >= now() - make_interval(hours => ?)
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [hours],
  )) as { rows: PushOutcomeCount[] };
  return rows;
}
