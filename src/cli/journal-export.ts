/**
 * `roster journal export`: every matching entry to a file, streamed in batches with a progress
 * bar. It writes FILE.partial and renames it when complete, so an interrupted export never
 * leaves a file that looks whole.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import type { Knex } from 'knex';
import { csvHeader, csvLine } from '../journal/csv.js';
import type { JournalFilter } from '../journal/filter.js';
import { entryView } from '../journal/present.js';
import { countJournal, streamJournal } from '../journal/query.js';
import { Progress } from './journal-progress.js';
import { UsageError } from './usage-error.js';

export async function exportJournalToFile(db: Knex, filter: JournalFilter, format: 'ndjson' | 'csv', file: string, force: boolean): Promise<void> {
  if (!force && fs.existsSync(file)) throw new UsageError(`${file} already exists; choose another --out, or add --force to overwrite it`);
  const partial = `${file}.partial`;
  const total = await countJournal(db, filter);
  const progress = new Progress(`Exporting to ${file}`, total);
  const out = fs.createWriteStream(partial, { flags: 'w' });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  let written = 0;
  try {
    const write = async (chunk: string) => {
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
    };
    if (format === 'csv') await write(csvHeader());
    // Newest first, like the API's pages and export.
    for await (const rows of streamJournal(db, filter)) {
      await write(format === 'csv' ? rows.map(csvLine).join('') : rows.map((row) => `${JSON.stringify(entryView(row))}\n`).join(''));
      written += rows.length;
      progress.update(written);
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
    progress.finish();
    fs.renameSync(partial, file);
  } catch (error) {
    out.destroy();
    fs.rmSync(partial, { force: true });
    throw new Error(`Export failed after ${written.toLocaleString('en-US')} entries, nothing was written to ${file}: ${(error as Error).message}`);
  }
  const size = fs.statSync(file).size;
  process.stdout.write(`Exported ${written.toLocaleString('en-US')} entries (${format}, ${(size / 1_048_576).toFixed(1)} MB) to ${file}\n`);
}
