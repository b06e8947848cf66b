/**
 * `roster grant <userName> <group> --reason "…" [--until DATE]` and `roster revoke <userName>
 * <group>`: exceptions, a managed group outside the rules (src/policy/exceptions.ts).
 */
import type { Command } from 'commander';
import { parseDuration } from '../journal/time.js';
import { parseDateTime } from '../scim/filter/match.js';
import { DEFAULT_EXCEPTION_DAYS, grantException, revokeException } from '../policy/exceptions.js';
import type { WritePath } from '../write/write-path.js';
import { cliActor } from './cli-actor.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';
import { cliWritePath } from './write-path.js';

/** --until: a date or date-time, or a duration from now ("14d", "12h", "2w") as operators type it. */
export function untilOf(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ahead = parseDuration(value);
  if (ahead !== undefined) return new Date(Date.now() + ahead);
  const parsed = parseDateTime(value.trim());
  if (!parsed) throw new UsageError(`--until must be a date such as 2026-03-31 or 2026-03-31T18:00:00Z, or a duration from now such as 14d, not "${value}"`);
  return new Date(parsed.epochMs);
}

async function withWritePath<T>(action: (writePath: WritePath) => Promise<T>): Promise<T> {
  const writePathOn = cliWritePath();
  return withDatabase(async (db) => {
    const writePath = writePathOn(db);
    return action(writePath);
  });
}

export function registerGrantCommands(program: Command): void {
  program
    .command('grant <userName> <group>')
    .description('give a managed group outside the rules, with a reason and an expiry')
    .requiredOption('--reason <text>', 'why (kept in the journal and shown by explain)')
    .option('--until <date>', `when it ends: a date (alone it means midnight UTC), a date-time, or a duration from now such as 14d (default: in ${DEFAULT_EXCEPTION_DAYS} days)`)
    .option('--as <name>', 'operator name for the journal (default: your OS user)')
    .action(async (userName: string, group: string, options: { reason: string; until?: string; as?: string }) => {
      const until = untilOf(options.until);
      await withWritePath(async (writePath) => {
        const result = await grantException(writePath, userName, group, { reason: options.reason, ...(until ? { until } : {}), actor: cliActor(options.as) });
        process.stdout.write(
          `Granted "${group}" to ${userName} until ${result.expiresAt.toISOString()} (exception ${result.id})${result.added ? '' : '; they were already a member through the rules'}.\n`,
        );
      });
    });
  program
    .command('revoke <userName> <group>')
    .description('end an exception grant now')
    .option('--as <name>', 'operator name for the journal (default: your OS user)')
    .action(async (userName: string, group: string, options: { as?: string }) => {
      await withWritePath(async (writePath) => {
        const result = await revokeException(writePath, userName, group, cliActor(options.as));
        process.stdout.write(result.removed ? `Revoked: ${userName} is no longer in "${group}".\n` : `Exception ended; ${userName} stays in "${group}" through the rules.\n`);
      });
    });
}
