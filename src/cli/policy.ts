/**
 * `roster policy plan [--file F] [--json]` and `roster policy apply [--file F] [--max-revoke N|P%]
 * [--force]`: preview and apply a policy file against today's users (src/policy/plan.ts, apply.ts);
 * `roster policy show`: the policy in force, as its file text (to save an apply made in the
 * console into the policy file, decision 0502).
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/env.js';
import { applyPolicy } from '../policy/apply.js';
import { locatePolicyFile, readPolicyFile } from '../policy/load.js';
import type { Policy } from '../policy/policy-file.js';
import { computePlan } from '../policy/plan.js';
import { appliedPolicyRow } from '../policy/policy-state.js';
import { cliActor } from './cli-actor.js';
import { renderPlan } from './policy-render.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';
import { cliWritePath } from './write-path.js';

export async function policyFromOption(file: string | undefined): Promise<Policy> {
  const config = loadConfig();
  const chosen = file ?? (await locatePolicyFile(config.policyFile, config.databaseUrl === undefined)).file;
  if (!chosen) throw new UsageError('No policy file: pass --file policy.yaml or set ROSTER_POLICY_FILE (the sample policy.yaml is the default only on the embedded quick start; see docs/policy.md)');
  // A broken or missing file is answered by main.ts like any operator mistake (exit 2).
  return readPolicyFile(chosen);
}

/** `--max-revoke 25` (users) or `--max-revoke 5%` (of all users). */
function maxRevokeOf(value: string | undefined, totalUsers: () => Promise<number>): Promise<number | undefined> {
  if (value === undefined) return Promise.resolve(undefined);
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(value.trim());
  if (!match) throw new UsageError(`--max-revoke must be a number of users (25) or a share of all users (5%), not "${value}"`);
  const n = Number(match[1]);
  return match[2] ? totalUsers().then((total) => Math.floor((total * n) / 100)) : Promise.resolve(Math.floor(n));
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('preview and apply the access policy (roles → managed groups)');
  policy
    .command('plan')
    .description('show who would gain and lose which role and group, without changing anything')
    .option('--file <path>', 'policy file (default: ROSTER_POLICY_FILE, else policy.yaml on the embedded quick start)')
    .option('--json', 'print the plan as JSON')
    .option('--max-revoke <n|p%>', 'the limit apply would use, to show whether it would refuse')
    .action(async (options: { file?: string; json?: boolean; maxRevoke?: string }) => {
      const file = await policyFromOption(options.file);
      await withDatabase(async (db) => {
        if (!options.json) process.stderr.write(`Evaluating ${file.roles.length} rules against every user…\n`);
        const plan = await computePlan(db, file);
        const maxRevoke = await maxRevokeOf(options.maxRevoke, async () => plan.totalUsers);
        process.stdout.write(options.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan, maxRevoke));
      });
    });
  policy
    .command('show')
    .description('print the policy in force (its file text, as applied last) to save it into the policy file')
    .action(async () => {
      await withDatabase(async (db) => {
        const applied = await appliedPolicyRow(db);
        if (!applied) throw new UsageError('No policy has been applied yet: apply one with npm run roster -- policy apply --file policy.yaml');
        process.stderr.write(`Version ${applied.version}, applied ${applied.applied_at.toISOString()} by ${applied.applied_by} (from ${applied.source_name})\n`);
        process.stdout.write(applied.source_text.endsWith('\n') ? applied.source_text : `${applied.source_text}\n`);
      });
    });
  policy
    .command('apply')
    .description('make the policy file the one in force and bring every user in line, in batches')
    .option('--file <path>', 'policy file (default: ROSTER_POLICY_FILE, else policy.yaml on the embedded quick start)')
    .option('--max-revoke <n|p%>', 'most users allowed to lose access (default: 10% of users)')
    .option('--force', 'apply even when more users would lose access than --max-revoke allows')
    .option('--as <name>', 'operator name for the journal (default: your OS user)')
    .action(async (options: { file?: string; maxRevoke?: string; force?: boolean; as?: string }) => {
      const file = await policyFromOption(options.file);
      const writePathOn = cliWritePath();
      await withDatabase(async (db) => {
        const writePath = writePathOn(db);
        const maxRevoke = await maxRevokeOf(options.maxRevoke, async () => Number((await db('users').count({ n: '*' }).first())?.n ?? 0));
        const result = await applyPolicy(writePath, file, {
          actor: cliActor(options.as, 'policy'),
          ...(maxRevoke !== undefined ? { maxRevoke } : {}),
          force: options.force === true,
          onProgress: (done, total) => process.stderr.write(`  applied ${done}/${total} users\n`),
        });
        const { plan } = result;
        if (!result.versionChanged && result.reconciled === 0) process.stdout.write(`Policy ${file.version} is already in force; nothing changed.\n`);
        else process.stdout.write(`Applied ${file.sourceName} version ${file.version}: ${result.reconciled} user(s) brought in line; ${plan.usersLosingAccess} lost access.\n`);
      });
    });
}
