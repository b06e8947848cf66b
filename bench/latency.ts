/**
 * Single-request latency: one request at a time (no concurrency), the median of many, so the
 * figure is the work of one request and not queueing. Issue #18 asks that a `userName eq` filter's
 * latency stay flat with the number of users (at 200,000 at most 1.5× its latency at 2,000); the
 * bench measures it at each BENCH_SIZES size and prints each size against the smallest.
 */
import type { RequestShape } from './measure.js';

export interface LatencyRow {
  users: number;
  label: string;
  medianMs: number;
  p90Ms: number;
  requests: number;
}

/** Flatness target: latency at the largest size over latency at the smallest. */
export const FLAT_LATENCY_RATIO = 1.5;

const quantile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;

/** `count` requests one after another (after `warmup` unmeasured ones); throws on a non-2xx answer. */
export async function sequentialLatency(
  baseUrl: string,
  shape: RequestShape,
  headers: Record<string, string>,
  count: number,
  warmup = 20,
): Promise<{ medianMs: number; p90Ms: number }> {
  const times: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const started = performance.now();
    const response = await fetch(baseUrl + shape.path(), {
      method: shape.method,
      headers,
      ...(shape.body ? { body: JSON.stringify(shape.body()) } : {}),
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${shape.method} ${shape.path()} answered ${response.status} during the latency measurement`);
    if (i >= warmup) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { medianMs: quantile(times, 0.5), p90Ms: quantile(times, 0.9) };
}

/** One printed line per size: its median latency and the ratio to the smallest size measured. */
export function renderLatencyRows(rows: readonly LatencyRow[]): string {
  if (rows.length === 0) return '';
  const smallest = [...rows].sort((a, b) => a.users - b.users)[0]!;
  const lines = rows.map((row) => {
    const ratio = row.medianMs / smallest.medianMs;
    const verdict = row === smallest ? '' : ` (target ≤ ${FLAT_LATENCY_RATIO}× of ${smallest.users.toLocaleString('en-US')} users: ${ratio <= FLAT_LATENCY_RATIO ? 'PASS' : 'FAIL'})`;
    return `| ${row.label} | ${row.users.toLocaleString('en-US')} | ${row.medianMs.toFixed(2)} | ${row.p90Ms.toFixed(2)} | ${row.requests} | ${ratio.toFixed(2)}×${verdict} |`;
  });
  return [
    'Single-request latency (one request at a time, median):',
    '',
    '| Request | Users | median ms | p90 ms | requests | vs smallest size |',
    '|---|--:|--:|--:|--:|---|',
    ...lines,
  ].join('\n');
}
