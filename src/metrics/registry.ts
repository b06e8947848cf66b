/**
 * The process's Prometheus registry. One per process (Prometheus scrapes each process as its own
 * target), with the Node.js runtime defaults (CPU, memory, event-loop lag, GC) alongside Roster's.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });
