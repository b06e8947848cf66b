import type { Knex } from 'knex';
import { loadConfig } from '../config/env.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/knex.js';
import { startJournalKeys } from '../journal/process-keys.js';
import type { SecretBox } from '../lib/secret-box.js';
import { openSecrets } from '../secrets/startup.js';

export interface DatabaseContext {
  /** Opens the secrets Roster stores sealed (ROSTER_SECRETS_KEY); undefined when none is configured. */
  secrets: SecretBox | undefined;
}

/**
 * Opens the configured database (migrated, stored secrets opened and journal keys set as `serve`
 * does), runs a CLI
 * action, and closes it again. Messages about the secrets key go to stderr, so that a command's
 * output (an export, a report) stays clean.
 */
export async function withDatabase<T>(action: (db: Knex, context: DatabaseContext) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    if (options.migrate === false) return await action(database.knex, { secrets: undefined });
    await migrateToLatest(database.knex);
    const secrets = await openSecrets(database.knex, config.secrets, { embedded: database.embedded, dataDir: config.dataDir }, (line) => process.stderr.write(line + '\n'), false);
    // Entries this command appends are sealed like those of `serve` (journal/seal.ts).
    await startJournalKeys(database.knex, config.journal.keySecret, secrets);
    return await action(database.knex, { secrets });
  } finally {
    await database.close();
  }
}
