/**
 * Migrations are listed here rather than discovered on disk, so the same list works under tsx
 * (sources) and after `tsc` (dist/), with no file-extension juggling in knex's directory loader.
 */
import type { Knex } from 'knex';
import * as core from '../../migrations/20261122000001_core.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrations: ReadonlyArray<readonly [string, Migration]> = [['20261122000001_core', core]];

export const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...migrations],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};

export const latestMigrationName = migrations[migrations.length - 1]![0];
