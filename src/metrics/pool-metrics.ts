/**
 * Database pool use, read from knex's pool (tarn) when Prometheus scrapes. Every pool an app was
 * built with is included; a destroyed pool drops out on its own.
 */
import type { Knex } from 'knex';
import { Gauge } from 'prom-client';
import { metricsRegistry } from './registry.js';

interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
}

const tracked = new Set<Knex>();

export function trackPool(db: Knex): void {
  tracked.add(db);
}

const poolOf = (db: Knex) => (db.client as { pool?: TarnPool }).pool;

new Gauge({
  name: 'roster_db_pool_connections',
  help: 'Database connections of this process: in use, idle, max, and requests waiting for one',
  labelNames: ['state'] as const,
  registers: [metricsRegistry],
  collect() {
    const totals = { used: 0, idle: 0, max: 0, waiting: 0 };
    for (const db of tracked) {
      const pool = poolOf(db);
      if (!pool) continue;
      totals.used += pool.numUsed();
      totals.idle += pool.numFree();
      totals.max += pool.max;
      totals.waiting += pool.numPendingAcquires();
    }
    for (const [state, value] of Object.entries(totals)) this.set({ state }, value);
  },
});
