import type { Knex } from 'knex';
import { loadConfig } from '../config/env.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/knex.js';

/** Opens the configured database (migrated), runs a CLI action, and closes it again. */
export async function withDatabase<T>(action: (db: Knex) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  const database = await openDatabase(loadConfig());
  try {
    if (options.migrate !== false) await migrateToLatest(database.knex);
    return await action(database.knex);
  } finally {
    await database.close();
  }
}
