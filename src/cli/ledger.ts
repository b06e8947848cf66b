/**
 * `roster ledger …`: the ledger of orphaned and drifting downstream accounts (src/governance/,
 * docs/governance.md). Full syncs fill it; these commands list it and act on its items.
 *   ledger [--connector C] [--kind orphan|drift] [--type User|Group] [--status S] [--name TEXT] [--json]
 *   ledger adopt <item> <userName|id>          link the remote account to a person
 *   ledger disable <item> | delete <item>      deprovision it on the target (mass-change guard)
 *   ledger ignore <item> --reason … [--until]  leave it alone until a date
 */
import type { Command } from 'commander';
import type { Knex } from 'knex';
import { LEDGER_KINDS, LEDGER_STATUSES, ledgerCounts, listLedger, type LedgerFilter, type LedgerItem, type LedgerKind, type LedgerStatus } from '../governance/ledger-store.js';
import { adoptOrphan, DEFAULT_IGNORE_DAYS, deprovisionOrphan, ignoreItem, LedgerError, MAX_IGNORE_DAYS } from '../governance/ledger-actions.js';
import type { ConnectorSet } from '../sync/connector.js';
import type { WritePath } from '../write/write-path.js';
import { cliActor } from './cli-actor.js';
import { untilOf } from './grant.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';
import { cliWriteParts } from './write-path.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

function choice<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value as T;
}

/** What differs or what the account is, in a few words. */
function detailOf(item: LedgerItem): string {
  const d = item.details;
  if (item.kind === 'orphan') {
    const parts = [d.active === false ? 'disabled on the target' : undefined, typeof d.externalId === 'string' ? `externalId ${d.externalId}` : undefined];
    return parts.filter(Boolean).join(', ');
  }
  if (d.kind === 'attributes') return `differs: ${(d.attributes as string[] | undefined)?.join(', ') ?? ''}`;
  if (d.kind === 'members') return `members: ${String(d.membersMissing ?? 0)} missing, ${String(d.membersExtra ?? 0)} extra on the target`;
  return 'missing on the target';
}

function printItems(items: readonly LedgerItem[]): void {
  const rows = items.map((i) => [
    i.id,
    i.connector,
    i.kind,
    i.resourceType,
    i.name,
    i.status === 'ignored' ? `ignored until ${i.ignoredUntil!.slice(0, 10)}` : i.status,
    i.lastSeenAt.slice(0, 19).replace('T', ' '),
    detailOf(i),
  ]);
  const header = ['ID', 'CONNECTOR', 'KIND', 'TYPE', 'NAME', 'STATUS', 'LAST SEEN (UTC)', 'DETAIL'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  for (const row of [header, ...rows]) out(row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

async function withLedger<T>(action: (writePath: WritePath, connectors: ConnectorSet, db: Knex) => Promise<T>): Promise<T> {
  const { connectors, writePathOn } = cliWriteParts();
  return withDatabase(async (db) => {
    try {
      return await action(writePathOn(db), connectors, db);
    } catch (error) {
      if (error instanceof LedgerError) throw new UsageError(error.message);
      throw error;
    }
  });
}

export function registerLedgerCommands(program: Command): void {
  const ledger = program.command('ledger').description('orphaned and drifting accounts on the downstream apps, found by full syncs');

  ledger
    .command('list', { isDefault: true })
    .description('list the ledger (oldest first)')
    .option('--connector <name>', 'only this connector')
    .option('--kind <kind>', `${LEDGER_KINDS.join(' or ')}`)
    .option('--type <type>', 'User or Group')
    .option('--status <status>', LEDGER_STATUSES.join(', '))
    .option('--name <text>', 'names containing this text (any case)')
    .option('--limit <n>', 'at most this many items', '1000')
    .option('--json', 'print as JSON')
    .action(async (options: { connector?: string; kind?: string; type?: string; status?: string; name?: string; limit: string; json?: boolean }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number above 0, not "${options.limit}"`);
      const filter: LedgerFilter = {
        connector: options.connector,
        kind: choice<LedgerKind>('kind', options.kind, LEDGER_KINDS),
        resourceType: choice('type', options.type, ['User', 'Group'] as const),
        status: choice<LedgerStatus>('status', options.status, LEDGER_STATUSES),
        name: options.name,
      };
      await withDatabase(async (db) => {
        const page = await listLedger(db, filter, { limit });
        if (options.json) return out(JSON.stringify({ items: page.items, more: page.next !== undefined }, null, 2));
        if (page.items.length === 0) return out('The ledger has no such items. A full sync fills it: npm run roster -- sync <connector> --full --report-only');
        printItems(page.items);
        const counts = await ledgerCounts(db, options.connector);
        out(`\n${counts.map((c) => `${c.connector}: ${c.count} ${c.kind} ${c.status}`).join('; ')}${page.next ? ` (first ${limit} shown; --limit for more)` : ''}`);
      });
    });

  ledger
    .command('adopt <item> <user>')
    .description('link an orphaned remote account to a person (userName or id) and bring it to the desired state')
    .option('--as <name>', 'operator name for the journal (default: your OS user)')
    .action(async (item: string, user: string, options: { as?: string }) => {
      await withLedger(async (writePath, connectors) => {
        const { result } = await adoptOrphan(writePath, connectors, item, user, cliActor(options.as));
        out(`Adopted: the remote account of item ${item} is now ${user}'s on its connector; sync: ${result.kind}${result.kind === 'done' ? '' : ` (${'reason' in result ? result.reason : ''}; the queue finishes it)`}.`);
      });
    });

  for (const how of ['disable', 'delete'] as const) {
    ledger
      .command(`${how} <item>`)
      .description(`${how} an orphaned account on the target (counted by the connector's mass-change guard)`)
      .option('--reason <text>', 'why (kept in the journal)')
      .option('--as <name>', 'operator name for the journal (default: your OS user)')
      .action(async (item: string, options: { reason?: string; as?: string }) => {
        await withLedger(async (writePath, connectors) => {
          const { item: after } = await deprovisionOrphan(writePath, connectors, item, how, cliActor(options.as), options.reason);
          out(`${how === 'disable' ? 'Disabled' : 'Deleted'} ${after.name} on ${after.connector}.`);
        });
      });
  }

  ledger
    .command('ignore <item>')
    .description('leave an item alone until a date; then it is open again')
    .requiredOption('--reason <text>', 'why it may be left alone (kept in the journal)')
    .option('--until <date>', `a date, a date-time, or a duration from now such as 30d (default: in ${DEFAULT_IGNORE_DAYS} days, at most ${MAX_IGNORE_DAYS})`)
    .option('--as <name>', 'operator name for the journal (default: your OS user)')
    .action(async (item: string, options: { reason: string; until?: string; as?: string }) => {
      const until = untilOf(options.until);
      await withLedger(async (writePath) => {
        const after = await ignoreItem(writePath, item, { reason: options.reason, until }, cliActor(options.as));
        out(`Ignored ${after.name} on ${after.connector} until ${after.ignoredUntil}.`);
      });
    });
}
