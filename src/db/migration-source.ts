/**
 * Migrations are listed here rather than discovered on disk, so the same list works under tsx
 * (sources) and after `tsc` (dist/), with no file-extension juggling in knex's directory loader.
 */
import type { Knex } from 'knex';
import * as core from '../../migrations/20261122000001_core.js';
import * as policy from '../../migrations/20261122000300_policy.js';
import * as sync from '../../migrations/20261122000400_sync.js';
import * as journalChain from '../../migrations/20261122000500_journal_chain.js';
import * as oauthAndLimits from '../../migrations/20261122000600_oauth_and_limits.js';
import * as nestedGroupIndex from '../../migrations/20261122000700_nested_group_index.js';
import * as journalOutbox from '../../migrations/20261122000800_journal_outbox.js';
import * as journalChainAtCommit from '../../migrations/20261122000900_journal_chain_at_commit.js';
import * as journalLinkLargeAppends from '../../migrations/20261202000100_journal_link_large_appends.js';
import * as syncLinkReferences from '../../migrations/20261207130100_sync_link_references.js';
import * as membersReferenceResources from '../../migrations/20261207145100_members_reference_resources.js';
import * as journalSeals from '../../migrations/20261207145200_journal_seals.js';
import * as consoleSessions from '../../migrations/20261207160000_console_sessions.js';
import * as consoleUploads from '../../migrations/20261207160100_console_uploads.js';
import * as governanceLedger from '../../migrations/20261207170001_governance_ledger.js';
import * as consoleTasks from '../../migrations/20261207180000_console_tasks.js';
import * as policyStartFile from '../../migrations/20261207180100_policy_start_file.js';
import * as peopleSearch from '../../migrations/20261207180200_people_search.js';
import * as accessRequests from '../../migrations/20261207190000_access_requests.js';
import * as governanceReviews from '../../migrations/20261207200000_governance_reviews.js';
import * as resourceCountSlots from '../../migrations/20261207210000_resource_count_slots.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrations: ReadonlyArray<readonly [string, Migration]> = [
  ['20261122000001_core', core],
  ['20261122000300_policy', policy],
  ['20261122000400_sync', sync],
  ['20261122000500_journal_chain', journalChain],
  ['20261122000600_oauth_and_limits', oauthAndLimits],
  ['20261122000700_nested_group_index', nestedGroupIndex],
  ['20261122000800_journal_outbox', journalOutbox],
  ['20261122000900_journal_chain_at_commit', journalChainAtCommit],
  ['20261202000100_journal_link_large_appends', journalLinkLargeAppends],
  ['20261207130100_sync_link_references', syncLinkReferences],
  ['20261207145100_members_reference_resources', membersReferenceResources],
  ['20261207145200_journal_seals', journalSeals],
  ['20261207160000_console_sessions', consoleSessions],
  ['20261207160100_console_uploads', consoleUploads],
  ['20261207170001_governance_ledger', governanceLedger],
  ['20261207180000_console_tasks', consoleTasks],
  ['20261207180100_policy_start_file', policyStartFile],
  ['20261207180200_people_search', peopleSearch],
  ['20261207190000_access_requests', accessRequests],
  ['20261207200000_governance_reviews', governanceReviews],
  ['20261207210000_resource_count_slots', resourceCountSlots],
];

export const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...migrations],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};

export const latestMigrationName = migrations[migrations.length - 1]![0];
