/**
 * The CSV export (RFC 4180): one row per entry, JSON values in their own cells, and the chain
 * fields last. Cells that a spreadsheet would run as a formula (starting with = + - @ or a tab or
 * carriage return) get a leading apostrophe, as OWASP advises for CSV files opened in Excel; the
 * NDJSON export is the exact, lossless one (docs/decisions/0302-journal-exports.md).
 */
import { pathChanges } from './present.js';
import type { JournalRow } from './row.js';

export const CSV_COLUMNS = [
  'id', 'seq', 'at', 'actor', 'source', 'request_id', 'action', 'resource_type', 'resource_id', 'resource_name',
  'changed_paths', 'changes', 'before', 'after', 'reason', 'prev_hash', 'hash',
] as const;

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvHeader = () => `${CSV_COLUMNS.join(',')}\r\n`;

export function csvLine(row: JournalRow): string {
  const cells: unknown[] = [
    row.id, row.seq, row.at, row.actor, row.source, row.request_id, row.action, row.resource_type, row.resource_id, row.resource_name,
    pathChanges(row).map((c) => c.path).join('; '), row.changes, row.before, row.after, row.reason, row.prev_hash, row.hash,
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}
