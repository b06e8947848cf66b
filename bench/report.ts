/**
 * The results table (Roster beside the bare-Express ceiling) and the target checks. Targets:
 *  - GET /Users/{id}: Roster req/s ≥ 0.5 × the bare-Express req/s (at every size);
 *  - a page of 100: ≥ 300 req/s (at every size);
 *  - `userName eq` and the single-member PATCH of the large group: at the largest size no more than
 *    1.5× slower than at the smallest, judged on req/s (the p50 ratio is shown beside it).
 */
import type { Measurement } from './measure.js';

export interface ResultRow {
  users: number;
  key: string;
  label: string;
  roster: Measurement;
  bare: Measurement;
  /** Cores PostgreSQL used during the Roster run. */
  postgresCores?: number;
  /** Cores other processes on the machine used during the Roster or the bare run (the larger). */
  otherCores?: number;
  notes: string[];
}

interface Verdict {
  target: string;
  result: 'PASS' | 'FAIL' | 'n/a' | '';
}

/** Cores used by unrelated processes above which a row's numbers are marked as skewed. */
const OTHER_CPU_WARNING = 0.2;
const SCALING_KEYS = new Set(['filter-username', 'patch-large']);
const MAX_SLOWDOWN = 1.5;

const num = (value: number, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
// autocannon records latency in whole milliseconds.
const ms = (value: number) => (Number.isInteger(value) || value >= 100 ? num(value) : num(value, 1));
const compact = (users: number) => (users >= 1_000_000 && users % 1_000_000 === 0 ? `${users / 1_000_000}M` : users >= 1000 && users % 1000 === 0 ? `${users / 1000}k` : String(users));

function verdict(row: ResultRow, rows: readonly ResultRow[]): Verdict {
  if (row.key === 'get-user') {
    const ratio = row.roster.reqPerSec / row.bare.reqPerSec;
    return { target: `≥ 0.5× bare req/s (is ${ratio.toFixed(2)}×)`, result: ratio >= 0.5 ? 'PASS' : 'FAIL' };
  }
  if (row.key === 'page-100') {
    return { target: '≥ 300 req/s', result: row.roster.reqPerSec >= 300 ? 'PASS' : 'FAIL' };
  }
  if (SCALING_KEYS.has(row.key)) {
    const sizes = rows.filter((r) => r.key === row.key).map((r) => r.users);
    const smallest = Math.min(...sizes);
    const largest = Math.max(...sizes);
    if (row.users !== largest) return { target: '', result: '' };
    const base = rows.find((r) => r.key === row.key && r.users === smallest);
    if (!base || smallest === largest) return { target: `≤ ${MAX_SLOWDOWN}× slower at the largest size (needs 2 sizes)`, result: 'n/a' };
    const slowdown = base.roster.reqPerSec / row.roster.reqPerSec;
    const p50Ratio = row.roster.p50 / base.roster.p50;
    return {
      target: `req/s ≤ ${MAX_SLOWDOWN}× slower than ${compact(smallest)} (is ${slowdown.toFixed(2)}×; p50 ${p50Ratio.toFixed(2)}×)`,
      result: slowdown <= MAX_SLOWDOWN ? 'PASS' : 'FAIL',
    };
  }
  return { target: '', result: '' };
}

function markdownTable(header: string[], body: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (rightAligned.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

export function renderReport(rows: readonly ResultRow[]): string {
  const header = ['Request', 'Users', 'Roster req/s', 'p50 ms', 'p99 ms', 'Bare req/s', 'p50 ms', 'p99 ms', 'Roster/Bare', 'PG cores', 'Other CPU', 'Target', 'Result'];
  const body = rows.map((row) => {
    const v = verdict(row, rows);
    const failures = row.roster.failures > 0 ? ` (${num(row.roster.failures)} non-2xx!)` : '';
    return [
      row.label,
      compact(row.users),
      num(row.roster.reqPerSec) + failures,
      ms(row.roster.p50),
      ms(row.roster.p99),
      num(row.bare.reqPerSec),
      ms(row.bare.p50),
      ms(row.bare.p99),
      `${(row.roster.reqPerSec / row.bare.reqPerSec).toFixed(2)}×`,
      row.postgresCores === undefined ? '?' : row.postgresCores.toFixed(2),
      row.otherCores === undefined ? '?' : row.otherCores.toFixed(2) + (row.otherCores > OTHER_CPU_WARNING ? ' !' : ''),
      v.target,
      v.result,
    ];
  });
  const table = markdownTable(header, body, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  const notes = rows.flatMap((row) => row.notes.map((note) => `- ${compact(row.users)} ${row.label}: ${note}`));
  const verdicts = rows.map((row) => verdict(row, rows)).filter((v) => v.result === 'PASS' || v.result === 'FAIL');
  const passed = verdicts.filter((v) => v.result === 'PASS').length;
  const legend =
    'PG cores: CPU PostgreSQL used during the Roster run. Other CPU: cores used by unrelated processes during the Roster or bare run ' +
    `(the larger; "!" above ${OTHER_CPU_WARNING}: that row is skewed by other work on the machine).`;
  return [table, '', legend, '', `Targets: ${passed}/${verdicts.length} pass.`, ...(notes.length ? ['', 'Notes:', ...notes] : [])].join('\n');
}
