/**
 * Finds and reads the policy file: ROSTER_POLICY_FILE if set (it must exist); else, on the embedded
 * quick start only (no DATABASE_URL), the sample `policy.yaml` in the working directory if present;
 * else none (Roster then runs without a policy). A production start on its own PostgreSQL never picks
 * up the sample, so it never invents the sample's groups (docs/decisions/0109-sample-policy-on-quick-start-only.md).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parsePolicy, type Policy } from './policy-file.js';
import { OperatorError } from '../lib/operator-error.js';

export const DEFAULT_POLICY_FILE = 'policy.yaml';

export class PolicyFileMissingError extends OperatorError {
  override name = 'PolicyFileMissingError';
}

/** Which policy file applies, and why: configured, the quick start's sample, or none. */
export type PolicyChoice =
  | { file: string; why: 'configured' | 'sample' }
  | { file: undefined; why: 'none' };

/** The policy file to use: the configured one, or on the quick start the sample when it exists. */
export async function locatePolicyFile(configured: string | undefined, quickStart: boolean): Promise<PolicyChoice> {
  if (configured) return { file: configured, why: 'configured' };
  if (!quickStart) return { file: undefined, why: 'none' };
  try {
    await fs.access(DEFAULT_POLICY_FILE);
    return { file: DEFAULT_POLICY_FILE, why: 'sample' };
  } catch {
    return { file: undefined, why: 'none' };
  }
}

/** One line that says which policy is enforced and how to change that, for start-up output. */
export function describePolicyChoice(choice: PolicyChoice): string {
  switch (choice.why) {
    case 'configured':
      return `Policy: ${choice.file} (ROSTER_POLICY_FILE)`;
    case 'sample':
      return `Policy: ${choice.file}, the SAMPLE policy, applied because this is the embedded quick start (set ROSTER_POLICY_FILE to use your own)`;
    case 'none':
      return 'Policy: none (set ROSTER_POLICY_FILE to enforce one; the sample policy.yaml applies only on the embedded quick start)';
  }
}

export async function readPolicyFile(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PolicyFileMissingError(
      code === 'ENOENT'
        ? `Policy file ${file} does not exist (resolved to ${path.resolve(file)}); fix ROSTER_POLICY_FILE or --file, or unset it to run without a policy`
        : `Cannot read policy file ${file}: ${code ?? (error as Error).message}`,
    );
  }
  return parsePolicy(text, path.relative(process.cwd(), path.resolve(file)) || file);
}
