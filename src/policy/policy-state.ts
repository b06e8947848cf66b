/**
 * The policy in force is the one applied last, stored in the database (policy_state), not the file
 * a process happened to start with: every Roster process and every CLI command evaluates the same
 * version. Parsed policies are cached by version; a version names immutable content, so the cache
 * can never be stale.
 */
import type { Knex } from 'knex';
import { parsePolicy, type Policy } from './policy-file.js';

export interface AppliedPolicyRow {
  version: string;
  source_name: string;
  source_text: string;
  applied_at: Date;
  applied_by: string;
  /** The policy file version `serve` last started with (null before any start recorded it). */
  start_file_version: string | null;
}

const parsedByVersion = new Map<string, Policy>();

export function rememberPolicy(policy: Policy): void {
  parsedByVersion.set(policy.version, policy);
}

/** The applied policy for `version`, parsing the stored text only the first time. */
export async function policyForVersion(db: Knex | Knex.Transaction, version: string): Promise<Policy | undefined> {
  const cached = parsedByVersion.get(version);
  if (cached) return cached;
  const row = await appliedPolicyRow(db);
  if (!row) return undefined;
  const policy = parsePolicy(row.source_text, row.source_name);
  rememberPolicy(policy);
  return policy.version === version ? policy : undefined;
}

export async function appliedPolicyRow(db: Knex | Knex.Transaction): Promise<AppliedPolicyRow | undefined> {
  return (await db('policy_state').first()) as AppliedPolicyRow | undefined;
}

export async function appliedPolicy(db: Knex | Knex.Transaction): Promise<Policy | undefined> {
  const row = (await db('policy_state').select('version').first()) as { version: string } | undefined;
  return row ? policyForVersion(db, row.version) : undefined;
}

export async function storeAppliedPolicy(tx: Knex.Transaction, policy: Policy, appliedBy: string): Promise<void> {
  await tx.raw(
    `INSERT INTO policy_state (singleton, version, source_name, source_text, applied_by) VALUES (true, ?, ?, ?, ?)
     ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version, source_name = EXCLUDED.source_name,
       source_text = EXCLUDED.source_text, applied_by = EXCLUDED.applied_by, applied_at = now()`,
    [policy.version, policy.sourceName, policy.sourceText, appliedBy],
  );
  rememberPolicy(policy);
}

/** Remembers the version of the file this start applied (or found in force), for the next start (startup.ts). */
export async function recordStartFile(db: Knex, version: string): Promise<void> {
  await db('policy_state').update({ start_file_version: version });
}
