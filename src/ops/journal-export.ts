/**
 * Streams every matching journal entry as NDJSON or CSV: rows are read in batches (keyset paging)
 * and each batch is written only when the socket has room (backpressure), so memory stays flat
 * for a million rows and a client that disconnects stops the reading. A database failure midway
 * aborts the response, so a truncated export is never mistaken for a complete one.
 */
import type { Response } from 'express';
import type { Knex } from 'knex';
import { csvHeader, csvLine } from '../journal/csv.js';
import type { JournalFilter } from '../journal/filter.js';
import { entryView } from '../journal/present.js';
import { streamJournal } from '../journal/query.js';
import { logger } from '../logging/logger.js';

export type ExportFormat = 'ndjson' | 'csv';

const CONTENT_TYPE: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
};

/** Resolves false when the client went away. */
function write(res: Response, chunk: string): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

export async function streamJournalExport(db: Knex, filter: JournalFilter, format: ExportFormat, res: Response): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  res.status(200);
  res.setHeader('Content-Type', CONTENT_TYPE[format]);
  res.setHeader('Content-Disposition', `attachment; filename="roster-journal-${stamp}.${format}"`);
  res.setHeader('Cache-Control', 'no-store');
  let written = 0;
  try {
    if (format === 'csv' && !(await write(res, csvHeader()))) return;
    for await (const rows of streamJournal(db, filter)) {
      const chunk = format === 'csv' ? rows.map(csvLine).join('') : rows.map((row) => `${JSON.stringify(entryView(row))}\n`).join('');
      if (!(await write(res, chunk))) return;
      written += rows.length;
    }
    res.end();
  } catch (error) {
    logger.error('journal export failed', { requestId: res.locals.requestId, written, error: (error as Error).message });
    res.destroy();
  }
}
