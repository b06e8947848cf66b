/**
 * The write path of a CLI command that changes users or groups (import, policy apply, grant and
 * revoke), composed like `serve`'s (src/compose/write-path.ts): the policy, then the outbound outbox when
 * ROSTER_CONNECTORS_FILE configures connectors, so a change made from the CLI queues its connector
 * pushes in its own transaction like any other. The CLI runs no sync worker: a running `serve` or
 * `sync worker` pushes the queued jobs.
 */
import type { Knex } from 'knex';
import { loadConfig } from '../config/env.js';
import { composeWritePath } from '../compose/write-path.js';
import { loadConnectorsFile } from '../sync/config.js';
import { ConnectorSet } from '../sync/connector.js';
import type { WritePath } from '../write/write-path.js';

/**
 * Reads and validates the connectors file now (call it before opening the database, as `serve`
 * does, so a bad file fails fast) and returns how to build the write path on the database.
 */
export function cliWritePath(env: NodeJS.ProcessEnv = process.env): (db: Knex) => WritePath {
  return cliWriteParts(env).writePathOn;
}

/** The same, with the connectors it was composed with (for commands that also talk to targets). */
export function cliWriteParts(env: NodeJS.ProcessEnv = process.env): { connectors: ConnectorSet; writePathOn: (db: Knex) => WritePath } {
  const connectors = ConnectorSet.fromConfig(loadConnectorsFile(loadConfig(env).connectorsFile, env));
  return { connectors, writePathOn: (db) => composeWritePath(db, { policy: true, connectors }) };
}
