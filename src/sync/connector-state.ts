/**
 * Per-connector runtime state shared by every Roster process (table sync_connectors): the
 * rate-limit schedule, the circuit breaker, the mass-change guard and the last outcome. Each rule
 * is one conditional UPDATE, so processes never disagree about it (decision 0202).
 */
import type { Knex } from 'knex';

export async function ensureConnectorRows(db: Knex, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await db.raw(`INSERT INTO sync_connectors (connector) SELECT unnest(?::text[]) ON CONFLICT DO NOTHING`, [[...names]]);
}

/**
 * Rate limit as a generic cell rate algorithm: each request takes the next start time, spaced
 * 1/rate apart, with up to one second of burst. Returns how long the caller must wait (ms).
 */
export async function takeRequestSlot(db: Knex, connector: string, requestsPerSecond: number): Promise<number> {
  const spacing = 1 / requestsPerSecond;
  const burst = Math.max(1, requestsPerSecond) * spacing; // one second's worth of requests
  const { rows } = (await db.raw(
    `UPDATE sync_connectors
        SET next_request_at = greatest(next_request_at, clock_timestamp() - make_interval(secs => ?)) + make_interval(secs => ?)
      WHERE connector = ?
      RETURNING extract(epoch FROM (next_request_at - make_interval(secs => ?) - clock_timestamp())) * 1000 AS wait_ms`,
    [burst, spacing, connector, spacing],
  )) as { rows: Array<{ wait_ms: number | string }> };
  return Math.max(0, Number(rows[0]?.wait_ms ?? 0));
}

/** A 429 with Retry-After: no process sends to this connector before then. */
export async function holdRequestsUntil(db: Knex, connector: string, until: Date): Promise<void> {
  await db.raw(`UPDATE sync_connectors SET next_request_at = greatest(next_request_at, ?::timestamptz) WHERE connector = ?`, [until.toISOString(), connector]);
}

export type Gate = { pass: true; probe: boolean } | { pass: false; until: Date; reason: 'paused' | 'circuit-open' };

/**
 * May a sync for this connector start now? No while paused by the guard (until approved) or while
 * the circuit is open. When the open period has passed, exactly one caller wins the half-open
 * probe; the others wait for its verdict.
 */
/** "Closed and not paused" seen by this process, trusted for a moment to save a query per job. */
const openGateSeenAt = new Map<string, number>();
const GATE_CACHE_MS = 250;

export async function checkGate(db: Knex, connector: string, openForMs: number): Promise<Gate> {
  if (Date.now() - (openGateSeenAt.get(connector) ?? 0) < GATE_CACHE_MS) return { pass: true, probe: false };
  const row = (await db('sync_connectors').select('circuit', 'circuit_until', 'paused_at').where({ connector }).first()) as
    | { circuit: string; circuit_until: Date | null; paused_at: Date | null }
    | undefined;
  if (!row) return { pass: true, probe: false };
  // Waiters re-check at least every minute, so a wake-up that raced their re-scheduling is never lost for long.
  if (row.paused_at) return { pass: false, until: new Date(Date.now() + 60_000), reason: 'paused' };
  if (row.circuit === 'closed') {
    openGateSeenAt.set(connector, Date.now());
    return { pass: true, probe: false };
  }
  openGateSeenAt.delete(connector);
  const { rows } = (await db.raw(
    `UPDATE sync_connectors SET circuit = 'half-open', circuit_until = clock_timestamp() + interval '60 seconds'
      WHERE connector = ? AND circuit IN ('open', 'half-open') AND circuit_until <= clock_timestamp()
      RETURNING connector`,
    [connector],
  )) as { rows: unknown[] };
  if (rows.length > 0) return { pass: true, probe: true };
  // Open: wait for the end of the open period. Half-open (another caller's probe is in flight):
  // check again soon; the probe's verdict decides.
  const soon = new Date(Date.now() + Math.min(openForMs, 5000));
  const until = row.circuit === 'open' && row.circuit_until && row.circuit_until > soon ? row.circuit_until : soon;
  return { pass: false, until, reason: 'circuit-open' };
}

/** A request succeeded. Returns true when this closed an open circuit (waiting jobs may resume). */
export async function recordSuccess(db: Knex, connector: string): Promise<boolean> {
  const { rows } = (await db.raw(
    `UPDATE sync_connectors AS s SET consecutive_failures = 0, circuit = 'closed', circuit_until = NULL, circuit_opened_count = 0,
            last_success_at = clock_timestamp()
       FROM (SELECT circuit FROM sync_connectors WHERE connector = ? FOR UPDATE) AS before
      WHERE s.connector = ?
      RETURNING before.circuit AS was`,
    [connector, connector],
  )) as { rows: Array<{ was: string }> };
  return rows[0]?.was !== undefined && rows[0].was !== 'closed';
}

export interface CircuitSettings {
  failureThreshold: number;
  openForMs: number;
  maxOpenForMs: number;
}

/**
 * The target failed (5xx, timeout, reset, refused, auth). After `failureThreshold` failures in a
 * row, or any failed probe, the circuit opens for openFor × 2^(times opened), capped.
 * Returns the time it stays open until, when it opened.
 */
export async function recordFailure(db: Knex, connector: string, error: string, settings: CircuitSettings): Promise<Date | undefined> {
  openGateSeenAt.delete(connector);
  const { rows } = (await db.raw(
    `UPDATE sync_connectors SET
        consecutive_failures = consecutive_failures + 1,
        last_failure_at = clock_timestamp(),
        last_error = ?,
        circuit = CASE WHEN circuit = 'half-open' OR consecutive_failures + 1 >= ? THEN 'open' ELSE circuit END,
        circuit_until = CASE WHEN circuit = 'half-open' OR consecutive_failures + 1 >= ?
          THEN clock_timestamp() + make_interval(secs => least(? * power(2, least(circuit_opened_count, 20)), ?) / 1000.0)
          ELSE circuit_until END,
        circuit_opened_count = CASE WHEN circuit = 'half-open' OR consecutive_failures + 1 >= ? THEN circuit_opened_count + 1 ELSE circuit_opened_count END
      WHERE connector = ?
      RETURNING circuit, circuit_until`,
    [error.slice(0, 500), settings.failureThreshold, settings.failureThreshold, settings.openForMs, settings.maxOpenForMs, settings.failureThreshold, connector],
  )) as { rows: Array<{ circuit: string; circuit_until: Date | null }> };
  const row = rows[0];
  return row?.circuit === 'open' && row.circuit_until ? row.circuit_until : undefined;
}

export interface GuardSettings {
  maxDeprovisions: number;
  /** Share (0..1) of the connector's active accounts; undefined = no share limit. */
  maxShare: number | undefined;
  windowMs: number;
}

/**
 * Counts `count` deprovisions (disables or deletes) against the guard's window. If that would
 * exceed the limit (a count, or a share of the accounts the connector manages) the connector is
 * paused instead, and the deprovisions must not be sent. Returns whether they may go ahead.
 * With `consume: false` (a full sync checking its whole plan first) nothing is counted: each
 * deprovision is counted when it is sent.
 */
export async function admitDeprovisions(db: Knex, connector: string, settings: GuardSettings, count = 1, consume = true): Promise<boolean> {
  openGateSeenAt.delete(connector);
  return db.transaction(async (tx) => {
    const row = (await tx('sync_connectors')
      .select('paused_at', 'guard_deprovisions', 'guard_window_start')
      .where({ connector })
      .forUpdate()
      .first()) as { paused_at: Date | null; guard_deprovisions: number; guard_window_start: Date } | undefined;
    if (!row) return true;
    if (row.paused_at) return false;
    const windowExpired = row.guard_window_start.getTime() < Date.now() - settings.windowMs;
    const used = (windowExpired ? 0 : row.guard_deprovisions) + count;
    let limit = settings.maxDeprovisions;
    if (settings.maxShare !== undefined) {
      const { rows } = (await tx.raw(`SELECT count(*)::int AS n FROM sync_links WHERE connector = ? AND state = 'active'`, [connector])) as { rows: Array<{ n: number }> };
      limit = Math.min(limit, Math.max(1, Math.ceil(settings.maxShare * (rows[0]?.n ?? 0))));
    }
    if (used > limit) {
      const share = settings.maxShare !== undefined ? ` or ${Math.round(settings.maxShare * 100)}% of its accounts` : '';
      await tx('sync_connectors')
        .where({ connector })
        .update({
          paused_at: tx.fn.now(),
          paused_reason: `mass-change guard: ${used} deprovisions would exceed ${settings.maxDeprovisions}${share} within ${Math.round(settings.windowMs / 60_000)} min`,
        });
      return false;
    }
    if (consume) {
      await tx('sync_connectors')
        .where({ connector })
        .update({ guard_deprovisions: used, ...(windowExpired ? { guard_window_start: tx.fn.now() } : {}) });
    }
    return true;
  });
}

export async function pauseConnector(db: Knex, connector: string, reason: string): Promise<void> {
  await db.raw(`UPDATE sync_connectors SET paused_at = coalesce(paused_at, clock_timestamp()), paused_reason = coalesce(paused_reason, ?) WHERE connector = ?`, [reason, connector]);
}

/** `sync approve`: lifts the pause and starts a fresh guard window. Returns whether it was paused. */
export async function approveConnector(db: Knex, connector: string): Promise<boolean> {
  const { rows } = (await db.raw(
    `UPDATE sync_connectors AS s SET paused_at = NULL, paused_reason = NULL, guard_deprovisions = 0, guard_window_start = clock_timestamp()
       FROM (SELECT paused_at FROM sync_connectors WHERE connector = ? FOR UPDATE) AS before
      WHERE s.connector = ? RETURNING before.paused_at IS NOT NULL AS was_paused`,
    [connector, connector],
  )) as { rows: Array<{ was_paused: boolean }> };
  return rows[0]?.was_paused === true;
}
