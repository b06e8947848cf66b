import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { logger } from '../logging/logger.js';
import { migrateQueue } from '../queue/queue.js';
import { migrationSource } from './migration-source.js';

// Return bigint columns (version, journal ids) as JS numbers; they stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/** Only the first line: knex appends stack traces to some messages, and logs carry none. */
const firstLine = (message: unknown): string => String(message).split('\n')[0] ?? '';

export interface DatabaseOptions {
  url: string;
  poolMax?: number;
}

export function createKnex({ url, poolMax = 10 }: DatabaseOptions): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'roster' },
    pool: {
      min: 0,
      max: poolMax,
      // Timestamps without an offset are read as UTC in SQL, as the in-memory filter matcher does.
      afterCreate: (connection: pg.Client, done: (error: Error | null, connection: pg.Client) => void) => {
        connection.query("SET TIME ZONE 'UTC'", (error: Error | null) => done(error, connection));
      },
    },
    migrations: { migrationSource, tableName: 'knex_migrations' },
    // knex prints pool warnings to the console by default; send them to the JSON log instead.
    log: {
      warn: (message: unknown) => logger.warn('database', { detail: firstLine(message) }),
      error: (message: unknown) => logger.error('database', { detail: firstLine(message) }),
      deprecate: (message: unknown) => logger.debug('database', { detail: firstLine(message) }),
      debug: (message: unknown) => logger.debug('database', { detail: firstLine(message) }),
    },
  });
}

/** Applies Roster's migrations, then the job queue's own schema (graphile-worker). */
export async function migrateToLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest()) as [number, string[]];
  await migrateQueue(connectionStringOf(knex));
  return applied;
}

export function connectionStringOf(knex: Knex): string {
  const connection = (knex.client as { config: { connection: { connectionString: string } } }).config.connection;
  return connection.connectionString;
}

/** True when every migration Roster knows has been applied. */
export async function migrationsAreCurrent(knex: Knex): Promise<boolean> {
  const [, pending] = (await knex.migrate.list()) as [unknown[], unknown[]];
  return pending.length === 0;
}
