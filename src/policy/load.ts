/**
 * Finds and reads the policy file: ROSTER_POLICY_FILE if set (it must exist), else `policy.yaml`
 * in the working directory if present, else none (Roster then runs without a policy).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parsePolicy, type Policy } from './policy-file.js';

export const DEFAULT_POLICY_FILE = 'policy.yaml';

export class PolicyFileMissingError extends Error {
  override name = 'PolicyFileMissingError';
}

/** The policy file to use: the configured one, or policy.yaml when it exists; undefined for none. */
export async function locatePolicyFile(configured: string | undefined): Promise<string | undefined> {
  if (configured) return configured;
  try {
    await fs.access(DEFAULT_POLICY_FILE);
    return DEFAULT_POLICY_FILE;
  } catch {
    return undefined;
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
