/**
 * Policy at start-up (`roster serve`): read the policy file (ROSTER_POLICY_FILE, else on the
 * embedded quick start the sample policy.yaml, see load.ts) before the database is opened, so an invalid file stops start-up at once with its
 * problems; then, on the database, apply the file if it differs from
 * the policy in force, under the same mass-revoke guard as
 * `policy apply` (a deploy is an apply; see docs/decisions/0101-policy-applied-at-start.md).
 * Without a file Roster runs with no policy: nothing is evaluated.
 */
import { logger } from '../logging/logger.js';
import type { WritePath } from '../write/write-path.js';
import { applyPolicy, MassRevokeError } from './apply.js';
import { locatePolicyFile, readPolicyFile, type PolicyChoice } from './load.js';
import type { Policy } from './policy-file.js';
import { appliedPolicyRow, policyForVersion, recordStartFile } from './policy-state.js';
import { OperatorError } from '../lib/operator-error.js';

export class PolicyStartError extends OperatorError {
  override name = 'PolicyStartError';
}

/** The policy file serve enforces, read and checked; undefined when there is none. */
export type StartupPolicy = { file: string; policy: Policy } | undefined;

/** Reads and checks the policy file serve will enforce (throws its problems), and says why it is that one. */
export async function readStartupPolicy(configuredFile: string | undefined, quickStart: boolean): Promise<{ choice: PolicyChoice; startup: StartupPolicy }> {
  const choice = await locatePolicyFile(configuredFile, quickStart);
  return { choice, startup: choice.file ? { file: choice.file, policy: await readPolicyFile(choice.file) } : undefined };
}

/**
 * Applies the start-up policy on `writePath`, which the composition root built with the policy
 * hook (and the outbox after it, so the apply's membership changes are pushed) when there is one.
 */
export const START_ACTOR = 'roster-serve';

/**
 * Applies the start-up policy on `writePath`, which the composition root built with the policy
 * hook (and the outbox after it, so the apply's membership changes are pushed) when there is one.
 *
 * A file that has not changed since the last start does not undo a policy applied since then from
 * the console or the CLI: that apply is newer, and stays in force (with a warning naming both).
 * A changed file is a deploy and is applied, unless a policy applied since the last start would
 * be overwritten without anyone choosing: then start-up stops and says how to choose (decision 0502).
 */
export async function startPolicy(writePath: WritePath, startup: StartupPolicy): Promise<Policy | undefined> {
  const applied = await appliedPolicyRow(writePath.db);
  if (!startup) {
    if (applied) logger.warn('no policy file: the policy applied earlier is not enforced', { version: applied.version, file: applied.source_name });
    return undefined;
  }
  const { file, policy } = startup;
  // A policy applied since the last start (console or CLI): the one in force is not the file's of then.
  const appliedSinceStart = applied !== undefined && applied.start_file_version !== null && applied.version !== applied.start_file_version && applied.version !== policy.version;
  if (appliedSinceStart && applied.start_file_version === policy.version) {
    logger.warn(
      `the policy file ${file} has not changed since the last start; the policy applied later by ${applied.applied_by} stays in force. ` +
        `To make the file agree, save the applied policy into it (npm run roster -- policy show > ${file}); to go back to the file, run: npm run roster -- policy apply --file ${file}`,
      { fileVersion: policy.version, appliedVersion: applied.version, appliedAt: applied.applied_at, appliedBy: applied.applied_by },
    );
    return policyForVersion(writePath.db, applied.version);
  }
  if (appliedSinceStart) {
    throw new PolicyStartError(
      `Roster did not start: the policy file ${file} changed since the last start (now version ${policy.version}), and a different policy (version ${applied.version}) ` +
        `was applied since then by ${applied.applied_by} at ${applied.applied_at.toISOString()}. Starting would overwrite that apply without anyone choosing. Choose one, then start again: ` +
        `keep the file with "npm run roster -- policy apply --file ${file}" (preview it first with "policy plan --file"; the mass-revoke guard applies), ` +
        `or keep the applied policy by saving it into the file with "npm run roster -- policy show > ${file}".`,
    );
  }
  try {
    const result = await applyPolicy(writePath, policy, { actor: { name: START_ACTOR, source: 'policy', requestId: `start-${policy.version}` } });
    if (result.versionChanged || result.reconciled > 0) {
      logger.info('policy applied', { file, version: policy.version, users: result.reconciled, losingAccess: result.plan.usersLosingAccess });
    }
  } catch (error) {
    if (error instanceof MassRevokeError) throw new PolicyStartError(`Roster did not start. ${error.message}`);
    throw error;
  }
  await recordStartFile(writePath.db, policy.version);
  return policy;
}
