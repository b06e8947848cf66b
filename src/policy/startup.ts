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
import { appliedPolicyRow } from './policy-state.js';
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
export async function startPolicy(writePath: WritePath, startup: StartupPolicy): Promise<Policy | undefined> {
  if (!startup) {
    const applied = await appliedPolicyRow(writePath.db);
    if (applied) logger.warn('no policy file: the policy applied earlier is not enforced', { version: applied.version, file: applied.source_name });
    return undefined;
  }
  const { file, policy } = startup;
  try {
    const result = await applyPolicy(writePath, policy, { actor: { name: 'roster-serve', source: 'policy', requestId: `start-${policy.version}` } });
    if (result.versionChanged || result.reconciled > 0) {
      logger.info('policy applied', { file, version: policy.version, users: result.reconciled, losingAccess: result.plan.usersLosingAccess });
    }
  } catch (error) {
    if (error instanceof MassRevokeError) throw new PolicyStartError(`Roster did not start. ${error.message}`);
    throw error;
  }
  return policy;
}
