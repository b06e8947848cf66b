/**
 * Opens the system of record: the server named by DATABASE_URL, or else an embedded PostgreSQL in
 * ROSTER_DATA_DIR. Either way the caller gets a knex instance and a function that closes it all.
 */
import type { Knex } from 'knex';
import type { RosterConfig } from '../config/env.js';
import { logger } from '../logging/logger.js';
import { startEmbeddedPostgres } from './embedded.js';
import { createKnex } from './knex.js';

export interface OpenDatabase {
  knex: Knex;
  embedded: boolean;
  close(): Promise<void>;
}

export async function openDatabase(config: Pick<RosterConfig, 'databaseUrl' | 'dataDir' | 'embeddedPgPort' | 'dbPoolMax'>): Promise<OpenDatabase> {
  if (config.databaseUrl) {
    const knex = createKnex({ url: config.databaseUrl, poolMax: config.dbPoolMax });
    return { knex, embedded: false, close: () => knex.destroy() };
  }
  logger.info('DATABASE_URL is not set: starting the embedded PostgreSQL', { dataDir: config.dataDir, port: config.embeddedPgPort });
  const server = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    port: config.embeddedPgPort,
    log: (message) => logger.debug('embedded postgres', { message }),
    notice: (message) => logger.info(`embedded postgres: ${message}`),
  });
  const knex = createKnex({ url: server.url, poolMax: config.dbPoolMax });
  return {
    knex,
    embedded: true,
    async close() {
      await knex.destroy();
      await server.stop();
    },
  };
}
