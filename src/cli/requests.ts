/**
 * `roster request …`: access requests (src/governance/requests.ts, docs/governance.md#access-requests).
 *   request catalog [--json]                                 what can be requested, and who approves it
 *   request list [--status S] [--user U] [--entry E] [--json]
 *   request show <id> [--json]
 *   request create <entry> <user> [--justification …] [--days N | --until DATE]   on someone's behalf
 *   request approve|deny <id> --approver <userName> --reason …                    record that approver's decision
 *   request withdraw <id> [--reason …]
 * The operator (--as, else the OS user) is the journal actor; they never decide a request they filed.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/env.js';
import { describeStage } from '../policy/catalog.js';
import { appliedPolicy } from '../policy/policy-state.js';
import { REQUEST_STATUSES, accessRequest, listRequests, type AccessRequest, type RequestStatus } from '../governance/request-store.js';
import { createRequest, decideRequest, findUser, RequestError, withdrawRequest } from '../governance/requests.js';
import type { WritePath } from '../write/write-path.js';
import { cliActor } from './cli-actor.js';
import { untilOf } from './grant.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';
import { cliWriteParts } from './write-path.js';

const out = (line = ''): void => void process.stdout.write(`${line}\n`);

function describe(r: AccessRequest): string {
  const next = r.status === 'pending' ? `, waiting for stage ${r.stage + 1} of ${r.stageCount}` : '';
  return `#${r.id} ${r.entry} for ${r.user.userName}: ${r.status}${next} (filed by ${r.requestedBy} at ${r.createdAt.slice(0, 19).replace('T', ' ')}Z${r.grantedUntil ? `, granted until ${r.grantedUntil}` : ''})`;
}

function printRequest(r: AccessRequest): void {
  out(describe(r));
  if (r.justification) out(`  justification: ${r.justification}`);
  for (const d of r.decisions) out(`  stage ${d.stage}: ${d.decision} by ${d.approver} (${d.actor}) at ${d.decidedAt}: "${d.reason}"`);
  if (r.closedReason && r.status !== 'approved') out(`  ${r.status} by ${r.closedBy}: "${r.closedReason}"`);
}

async function withRequests<T>(action: (writePath: WritePath) => Promise<T>): Promise<T> {
  const { writePathOn } = cliWriteParts();
  return withDatabase(async (db) => {
    try {
      return await action(writePathOn(db));
    } catch (error) {
      if (error instanceof RequestError) throw new UsageError(error.message);
      throw error;
    }
  });
}

function requestNumber(text: string): number {
  if (!/^#?\d{1,15}$/.test(text)) throw new UsageError(`"${text}" is not a request number such as 12`);
  return Number(text.replace('#', ''));
}

export function registerRequestCommands(program: Command): void {
  const request = program.command('request').description('access requests: ask for catalog entries, decide them, withdraw them');

  request
    .command('catalog')
    .description('what can be requested, by whom, and who approves it')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      await withDatabase(async (db) => {
        const catalog = (await appliedPolicy(db))?.catalog ?? [];
        if (options.json) return out(JSON.stringify(catalog.map(({ requesters, ...e }) => ({ ...e, requesters: requesters?.when ?? null })), null, 2));
        if (catalog.length === 0) return out('The applied policy has no catalog; add one (docs/policy.md#catalog) and apply it.');
        for (const e of catalog) {
          out(`${e.name}: ${e.grants.role ? `role ${e.grants.role} (${e.grants.groups.join(', ')})` : e.grants.groups.join(', ')}, up to ${e.maxDays} days${e.justificationRequired ? ', justification required' : ''}`);
          out(`  requested by: ${e.requesters?.when ?? 'anyone active'}; approved by: ${e.stages.map((s, i) => `${i + 1}. ${describeStage(s)}`).join(' then ')}${e.conflictsWith.length ? `; conflicts with ${e.conflictsWith.join(', ')}` : ''}`);
        }
      });
    });

  request
    .command('list', { isDefault: true })
    .description('list requests, newest first')
    .option('--status <status>', REQUEST_STATUSES.join(', '))
    .option('--user <user>', 'requests for or filed by this person (userName or id)')
    .option('--entry <name>', 'only this catalog entry')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print as JSON')
    .action(async (options: { status?: string; user?: string; entry?: string; limit: string; json?: boolean }) => {
      if (options.status !== undefined && !(REQUEST_STATUSES as readonly string[]).includes(options.status)) throw new UsageError(`--status must be one of ${REQUEST_STATUSES.join(', ')}`);
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number above 0, not "${options.limit}"`);
      await withDatabase(async (db) => {
        const user = options.user === undefined ? undefined : await findUser(db, options.user);
        if (options.user !== undefined && !user) throw new UsageError(`No user "${options.user}"`);
        const page = await listRequests(db, { status: options.status as RequestStatus | undefined, entry: options.entry, involving: user?.id }, { limit });
        if (options.json) return out(JSON.stringify({ items: page.items, more: page.next !== undefined }, null, 2));
        if (page.items.length === 0) return out('No such requests.');
        for (const r of page.items) out(describe(r));
        if (page.next) out(`(first ${limit} shown; --limit for more)`);
      });
    });

  request
    .command('show <id>')
    .description('one request with its decisions')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      await withDatabase(async (db) => {
        const found = await accessRequest(db, requestNumber(id));
        if (!found) throw new UsageError(`No access request #${id}`);
        if (options.json) out(JSON.stringify(found, null, 2));
        else printRequest(found);
      });
    });

  request
    .command('create <entry> <user>')
    .description('request a catalog entry on someone\'s behalf (userName or id)')
    .option('--justification <text>', 'why the person needs it')
    .option('--days <n>', 'how long from approval (default: the entry\'s longest)')
    .option('--until <date>', 'or until a date, a date-time, or a duration from now such as 14d')
    .option('--as <name>', 'operator name for the journal (default: your OS user)')
    .option('--json', 'print as JSON')
    .action(async (entry: string, user: string, options: { justification?: string; days?: string; until?: string; as?: string; json?: boolean }) => {
      if (options.days !== undefined && !/^\d{1,4}$/.test(options.days)) throw new UsageError(`--days must be a whole number, not "${options.days}"`);
      const input = { entry, user, justification: options.justification, days: options.days === undefined ? undefined : Number(options.days), until: untilOf(options.until) };
      const undecidedMs = loadConfig().requests.undecidedMs;
      const created = await withRequests((writePath) => createRequest(writePath, input, { actor: cliActor(options.as) }, { undecidedMs }));
      if (options.json) return out(JSON.stringify(created, null, 2));
      out(`Filed ${describe(created)}. The approvers are told by the running Roster (serve); it expires undecided at ${created.expiresAt}.`);
    });

  for (const decision of ['approve', 'deny'] as const) {
    request
      .command(`${decision} <id>`)
      .description(`record an approver's ${decision === 'approve' ? 'approval' : 'denial'} of the request's next stage`)
      .requiredOption('--approver <userName>', 'the approver deciding (must be an approver of the stage)')
      .requiredOption('--reason <text>', 'why (kept with the decision and in the journal)')
      .option('--as <name>', 'operator name for the journal (default: your OS user)')
      .option('--json', 'print as JSON')
      .action(async (id: string, options: { approver: string; reason: string; as?: string; json?: boolean }) => {
        const decided = await withRequests(async (writePath) => {
          const approver = await findUser(writePath.db, options.approver);
          if (!approver) throw new UsageError(`No user "${options.approver}" to decide as`);
          return decideRequest(writePath, requestNumber(id), { decision, reason: options.reason }, { actor: cliActor(options.as), userId: approver.id });
        });
        if (options.json) return out(JSON.stringify(decided, null, 2));
        printRequest(decided);
      });
  }

  request
    .command('withdraw <id>')
    .description('take back a pending request you filed')
    .option('--reason <text>', 'why (kept in the journal)')
    .option('--as <name>', 'operator name for the journal (default: your OS user)')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { reason?: string; as?: string; json?: boolean }) => {
      const withdrawn = await withRequests((writePath) => withdrawRequest(writePath, requestNumber(id), { actor: cliActor(options.as) }, options.reason));
      if (options.json) return out(JSON.stringify(withdrawn, null, 2));
      printRequest(withdrawn);
    });
}
