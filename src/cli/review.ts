/**
 * `roster review …`: access reviews (src/governance/, docs/governance.md#access-reviews).
 *   review open --name N --scope rules,exceptions,idp,ledger --deadline D --default keep|revoke --fallback-reviewer U
 *   review list [--status open|closed] [--json]
 *   review items <campaign> [--reviewer U] [--undecided] [--json]
 *   review decide <campaign> <item> keep|revoke|shorten --reason … [--until D]
 *   review report <campaign> [--format csv|json]
 *   review sweep                      apply the default of every campaign past its deadline
 * Progress goes to stderr, so --json and the report stay clean on stdout.
 */
import type { Command } from 'commander';
import { decideItem } from '../governance/review-decide.js';
import { sweepDeadlines } from '../governance/review-deadline.js';
import { openCampaign } from '../governance/review-open.js';
import { campaignReport, reportCsv } from '../governance/review-report.js';
import { campaignById, listCampaigns, listItems, REVIEW_DECISIONS, REVIEW_SCOPES, reviewItem, type Campaign, type ReviewDecision, type ReviewItem, type ReviewScope } from '../governance/review-store.js';
import type { ConnectorSet } from '../sync/connector.js';
import type { WritePath } from '../write/write-path.js';
import { cliActor } from './cli-actor.js';
import { untilOf } from './grant.js';
import { Progress } from './journal-progress.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';
import { cliWriteParts } from './write-path.js';

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const progressLine = (line: string) => process.stderr.write(`${line}\n`);

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  for (const row of [header, ...rows]) out(row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

const progressOf = (c: Campaign) => `${c.decided}/${c.total}`;

function printCampaigns(campaigns: readonly Campaign[]): void {
  table(
    ['ID', 'NAME', 'STATUS', 'DECIDED', 'DEADLINE (UTC)', 'DEFAULT', 'SCOPE'],
    campaigns.map((c) => [c.id, c.name, c.status, progressOf(c), c.deadline.slice(0, 16).replace('T', ' '), c.defaultDecision, c.scope.join(',')]),
  );
}

function printItems(items: readonly ReviewItem[]): void {
  table(
    ['ITEM', 'KIND', 'ACCESS', 'REVIEWER', 'DECISION', 'OUTCOME'],
    items.map((i) => [i.id, i.kind, i.kind === 'rule' ? `${i.label} (${String(i.details.people)} people)` : i.label, `${i.reviewer} (${i.reviewerBasis})`, i.decision ? `${i.decision}${i.byDefault ? ' (default)' : ''}` : '-', i.outcome ?? '']),
  );
}

function scopeOf(text: string): ReviewScope[] {
  const scope = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scope.filter((s) => !(REVIEW_SCOPES as readonly string[]).includes(s));
  if (unknown.length || scope.length === 0) throw new UsageError(`--scope is a comma-separated list of ${REVIEW_SCOPES.join(', ')}, not "${text}"`);
  return scope as ReviewScope[];
}

async function withReviews<T>(action: (writePath: WritePath, connectors: ConnectorSet) => Promise<T>): Promise<T> {
  const { connectors, writePathOn } = cliWriteParts();
  return withDatabase((db) => action(writePathOn(db), connectors));
}

export function registerReviewCommands(program: Command): void {
  const review = program.command('review').description('access reviews: campaigns that certify rules and review exceptions, IdP memberships and orphans');

  review
    .command('open')
    .description('open a campaign (its items are chosen and assigned at once)')
    .requiredOption('--name <text>', 'what the campaign is, e.g. "Q1 2027 access review"')
    .requiredOption('--scope <list>', `what it reviews: ${REVIEW_SCOPES.join(',')}`)
    .requiredOption('--deadline <date>', 'a date, a date-time, or a duration from now such as 14d')
    .requiredOption('--default <decision>', 'what undecided items become at the deadline: keep or revoke')
    .requiredOption('--fallback-reviewer <userName>', 'who reviews items without an owner or a known manager')
    .option('--ledger-reviewer <userName>', 'who reviews orphans and drift (default: the fallback reviewer)')
    .option('--remind-every <hours>', 'hours between reminders', '72')
    .option('--as <name>', 'operator name for the journal (default: your OS user)')
    .option('--json', 'print the campaign as JSON')
    .action(async (options: { name: string; scope: string; deadline: string; default: string; fallbackReviewer: string; ledgerReviewer?: string; remindEvery: string; as?: string; json?: boolean }) => {
      if (options.default !== 'keep' && options.default !== 'revoke') throw new UsageError(`--default must be keep or revoke, not "${options.default}"`);
      const deadline = untilOf(options.deadline)!;
      const started = Date.now();
      const campaign = await withReviews((writePath) =>
        openCampaign(writePath, {
          name: options.name,
          scope: scopeOf(options.scope),
          deadline,
          defaultDecision: options.default as 'keep' | 'revoke',
          fallbackReviewer: options.fallbackReviewer,
          ledgerReviewer: options.ledgerReviewer,
          remindEveryHours: Number(options.remindEvery),
          actor: cliActor(options.as),
          onProgress: ({ part, items }) => progressLine(`opening: ${part}: ${items.toLocaleString('en-US')} item(s) (${((Date.now() - started) / 1000).toFixed(1)} s)`),
        }),
      );
      if (options.json) return out(JSON.stringify(campaign, null, 2));
      out(`Opened campaign ${campaign.id} "${campaign.name}": ${campaign.total} item(s), deadline ${campaign.deadline}, undecided items then ${campaign.defaultDecision === 'keep' ? 'are kept' : 'are revoked'}.`);
      out(`Reviewers see their items in the console (Reviews) or with: npm run roster -- review items ${campaign.id} --reviewer <userName>`);
    });

  review
    .command('list', { isDefault: true })
    .description('campaigns with their progress (newest first)')
    .option('--status <status>', 'open or closed')
    .option('--json', 'print as JSON')
    .action(async (options: { status?: string; json?: boolean }) => {
      if (options.status !== undefined && options.status !== 'open' && options.status !== 'closed') throw new UsageError(`--status must be open or closed, not "${options.status}"`);
      await withDatabase(async (db) => {
        const campaigns = await listCampaigns(db, { status: options.status as 'open' | 'closed' | undefined });
        if (options.json) return out(JSON.stringify({ campaigns }, null, 2));
        if (campaigns.length === 0) return out('No campaigns. Open one: npm run roster -- review open --help');
        printCampaigns(campaigns);
      });
    });

  review
    .command('items <campaign>')
    .description("a campaign's items (all, or one reviewer's)")
    .option('--reviewer <userName>', 'only this reviewer')
    .option('--undecided', 'only items without a decision')
    .option('--limit <n>', 'at most this many items', '1000')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { reviewer?: string; undecided?: boolean; limit: string; json?: boolean }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number above 0, not "${options.limit}"`);
      await withDatabase(async (db) => {
        const campaign = await campaignById(db, id);
        if (!campaign) throw new UsageError(`No campaign ${id}; see: npm run roster -- review list`);
        const page = await listItems(db, campaign.id, { reviewers: options.reviewer ? [options.reviewer] : undefined, decided: options.undecided ? false : undefined }, { limit });
        if (options.json) return out(JSON.stringify({ items: page.items, more: page.next !== undefined }, null, 2));
        printItems(page.items);
        out(`\n${campaign.name}: ${progressOf(campaign)} decided${page.next ? ` (first ${limit} shown; --limit for more)` : ''}`);
      });
    });

  review
    .command('decide <campaign> <item> <decision>')
    .description(`decide an item: ${REVIEW_DECISIONS.join(', ')} (shorten: exceptions only, with --until)`)
    .requiredOption('--reason <text>', 'why (kept in the journal and the report)')
    .option('--until <date>', 'shorten: the new end, a date or a duration from now such as 14d')
    .option('--as <name>', 'reviewer name for the journal (default: your OS user)')
    .option('--json', 'print the item as JSON')
    .action(async (id: string, itemId: string, decision: string, options: { reason: string; until?: string; as?: string; json?: boolean }) => {
      if (!(REVIEW_DECISIONS as readonly string[]).includes(decision)) throw new UsageError(`The decision is one of ${REVIEW_DECISIONS.join(', ')}, not "${decision}"`);
      const item = await withReviews(async (writePath, connectors) => {
        const found = await reviewItem(writePath.db, itemId);
        if (found?.campaignId !== id) throw new UsageError(`Campaign ${id} has no item ${itemId}; see: npm run roster -- review items ${id}`);
        return decideItem(writePath, connectors, itemId, { decision: decision as ReviewDecision, reason: options.reason, until: untilOf(options.until), actor: cliActor(options.as) });
      });
      if (options.json) return out(JSON.stringify(item, null, 2));
      out(`${item.label}: ${item.decision}. ${item.outcome ?? ''}`);
    });

  review
    .command('report <campaign>')
    .description('who reviewed what, when, with which decision and reason, and the journal entries')
    .option('--format <format>', 'csv or json', 'csv')
    .action(async (id: string, options: { format: string }) => {
      if (options.format !== 'csv' && options.format !== 'json') throw new UsageError(`--format must be csv or json, not "${options.format}"`);
      await withDatabase(async (db) => {
        const report = await campaignReport(db, id);
        if (!report) throw new UsageError(`No campaign ${id}; see: npm run roster -- review list`);
        process.stdout.write(options.format === 'csv' ? reportCsv(report) : `${JSON.stringify(report, null, 2)}\n`);
      });
    });

  review
    .command('sweep')
    .description("apply the default of every open campaign past its deadline (serve's worker does this by itself)")
    .option('--json', 'print the outcomes as JSON')
    .action(async (options: { json?: boolean }) => {
      const outcomes = await withReviews(async (writePath, connectors) => {
        const bars = new Map<string, Progress>();
        const result = await sweepDeadlines(writePath, connectors, {
          actor: { ...cliActor(undefined, 'system'), name: 'review-deadline' },
          onProgress: (campaignId, done, total) => {
            if (!bars.has(campaignId)) bars.set(campaignId, new Progress(`campaign ${campaignId}: applying the default`, total));
            bars.get(campaignId)!.update(done);
          },
        });
        for (const bar of bars.values()) bar.finish();
        return result;
      });
      if (options.json) return out(JSON.stringify({ outcomes }, null, 2));
      if (outcomes.length === 0) return out('No open campaign is past its deadline.');
      for (const o of outcomes) {
        out(`Campaign ${o.campaignId}: the default applied to ${o.applied} item(s)${o.closed ? '; closed' : `; ${o.failed.length} failed (first: ${o.failed[0]?.error ?? ''}), run the sweep again later`}.`);
      }
    });
}
