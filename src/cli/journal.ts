/**
 * `roster journal …`: read the journal as evidence from the command line.
 *   journal [filters] [--limit N] [--json] [--follow]   newest first as a table (or JSON); --follow tails
 *   journal export --format ndjson|csv --out FILE [filters]
 *   journal verify                                      walk the hash chain; exit 1 on the first break
 *   journal purge [--older-than 90d]                    retention purge with signed checkpoints
 * Filters are the API's (src/journal/filter.ts), spelled as flags.
 */
import type { Command } from 'commander';
import type { Knex } from 'knex';
import { loadConfig } from '../config/env.js';
import { FILTER_PARAMETERS, parseJournalFilter, type FilterInput, type JournalFilter } from '../journal/filter.js';
import { entryView } from '../journal/present.js';
import { newestJournalId, queryJournal, readJournalSince } from '../journal/query.js';
import type { JournalRow } from '../journal/row.js';
import { exportJournalToFile } from './journal-export.js';
import { registerJournalMaintenance } from './journal-maintenance.js';
import { renderTable } from './journal-table.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';

interface FilterFlags {
  type?: string;
  id?: string;
  user?: string;
  group?: string;
  actor?: string;
  source?: string;
  action?: string;
  requestId?: string;
  since?: string;
  until?: string;
}

const FLAG_OF_OPTION: Record<keyof typeof FILTER_PARAMETERS, keyof FilterFlags> = {
  resourceType: 'type',
  resourceId: 'id',
  user: 'user',
  group: 'group',
  actor: 'actor',
  source: 'source',
  action: 'action',
  requestId: 'requestId',
  since: 'since',
  until: 'until',
};

export function withFilterOptions(command: Command): Command {
  return command
    .option('--user <userName>', 'entries about this user (also after it was renamed or deleted) and membership changes that touched it')
    .option('--group <displayName>', 'entries about this group')
    .option('--type <type>', 'User or Group')
    .option('--id <id>', 'entries about the resource with this id')
    .option('--actor <name>', 'who made the change: a token or client name, e.g. entra')
    .option('--source <source>', 'scim, bulk, cli, import, policy, sync, auth, system (comma-separated for several)')
    .option('--action <action>', 'create, replace, update, delete, members.remove, … (comma-separated for several)')
    .option('--request-id <id>', 'entries of one request (the X-Request-Id it was answered with)')
    .option('--since <time>', 'from this time on: 7d, 12h, 30m, or an ISO time such as 2026-11-01T09:00:00Z')
    .option('--until <time>', 'before this time (same forms as --since)');
}

export function filterFromFlags(flags: FilterFlags): JournalFilter {
  const input: FilterInput = {};
  for (const [param, flag] of Object.entries(FLAG_OF_OPTION) as Array<[keyof typeof FILTER_PARAMETERS, keyof FilterFlags]>) input[param] = flags[flag];
  return parseJournalFilter(input, (key) => FILTER_PARAMETERS[key]);
}

export function positiveInteger(flag: string, text: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) throw new UsageError(`${flag} must be a whole number from 1 to ${max}, not "${text}"`);
  return Number(text);
}

interface ListFlags extends FilterFlags {
  limit: string;
  json?: boolean;
  follow?: boolean;
  interval: string;
}

async function list(db: Knex, flags: ListFlags): Promise<void> {
  const filter = filterFromFlags(flags);
  const limit = positiveInteger('--limit', flags.limit, 10_000);
  const page = await queryJournal(db, filter, { limit });
  if (flags.follow) return follow(db, filter, [...page.rows].reverse(), flags);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(page.rows.map(entryView), null, 2)}\n`);
    return;
  }
  if (page.rows.length === 0) {
    process.stdout.write('No journal entries match. Widen the filters (e.g. --since 30d), or list everything: npm run roster -- journal\n');
    return;
  }
  process.stdout.write(`${renderTable(page.rows)}\n`);
  if (page.next !== undefined) {
    process.stdout.write(`\nShowing the ${limit} newest matching entries; more match. Use --limit N, or export them all: npm run roster -- journal export --format csv --out journal.csv (same filters)\n`);
  }
}

/** Prints the recent entries oldest first, then new ones as they are committed, until Ctrl-C. */
async function follow(db: Knex, filter: JournalFilter, recent: JournalRow[], flags: ListFlags): Promise<void> {
  const intervalMs = positiveInteger('--interval', flags.interval, 3600) * 1000;
  const print = (rows: JournalRow[], header: boolean) => {
    if (flags.json) process.stdout.write(rows.map((r) => `${JSON.stringify(entryView(r))}\n`).join(''));
    else if (rows.length || header) process.stdout.write(`${renderTable(rows, { follow: true, header })}\n`);
  };
  print(recent, true);
  // Appends take ids in commit order (under the chain lock), so "id > last seen" misses nothing.
  let last = recent.at(-1)?.id ?? (await newestJournalId(db));
  let stopped = false;
  let wake = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopped) {
      const page = await readJournalSince(db, filter, last, 1000);
      print(page.rows, false);
      if (page.rows.length) last = page.rows.at(-1)!.id;
      if (page.next !== undefined || stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export function registerJournalCommands(program: Command): void {
  const journal = program.command('journal').description('query, export, verify and purge the change journal');

  withFilterOptions(journal.command('list', { isDefault: true }).description('show matching entries, newest first (the default)'))
    .option('--limit <n>', 'how many entries', '20')
    .option('--json', 'JSON instead of a table (with --follow: one JSON object per line)')
    .option('--follow', 'keep running and print new entries as they are committed (Ctrl-C stops)')
    .option('--interval <seconds>', 'with --follow: how often to look for new entries', '1')
    .action(async (flags: ListFlags) => {
      filterFromFlags(flags); // report bad flags before opening the database
      await withDatabase((db) => list(db, flags));
    });

  withFilterOptions(journal.command('export').description('write every matching entry to a file, with progress'))
    .requiredOption('--format <format>', 'ndjson (exact, one JSON entry per line) or csv (for spreadsheets)')
    .requiredOption('--out <file>', 'the file to write')
    .option('--force', 'overwrite the file if it exists')
    .action(async (flags: FilterFlags & { format: string; out: string; force?: boolean }) => {
      const format = flags.format.toLowerCase();
      if (format !== 'ndjson' && format !== 'csv') throw new UsageError(`--format must be ndjson or csv, not "${flags.format}"`);
      const filter = filterFromFlags(flags);
      await withDatabase((db) => exportJournalToFile(db, filter, format, flags.out, flags.force === true));
    });

  registerJournalMaintenance(journal, () => loadConfig().journal);
}
