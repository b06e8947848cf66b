/**
 * What the sync and connectors commands share: the configured connectors (from
 * ROSTER_CONNECTORS_FILE, validated), a database, and a connector looked up by name with an error
 * that lists the configured ones.
 */
import type { Knex } from 'knex';
import { loadConfig } from '../config/env.js';
import { loadConnectorsFile } from '../sync/config.js';
import { ConnectorSet, type Connector } from '../sync/connector.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';

export function configuredConnectors(): ConnectorSet {
  const config = loadConfig();
  const connectors = ConnectorSet.fromConfig(loadConnectorsFile(config.connectorsFile));
  if (connectors.size === 0) {
    throw new UsageError('No connectors are configured: set ROSTER_CONNECTORS_FILE to your connectors file (see docs/connectors.md and examples/connectors.yaml)');
  }
  return connectors;
}

export function connectorNamed(connectors: ConnectorSet, name: string): Connector {
  const connector = connectors.get(name);
  if (!connector) throw new UsageError(`No connector named "${name}" in ROSTER_CONNECTORS_FILE; configured: ${connectors.list.map((c) => c.name).join(', ')}`);
  return connector;
}

/** Runs with the connectors and a migrated database. */
export async function withConnectors<T>(action: (db: Knex, connectors: ConnectorSet) => Promise<T>): Promise<T> {
  const connectors = configuredConnectors();
  return withDatabase((db) => action(db, connectors));
}

/** A line that rewrites itself on a terminal, and prints at most every 2 s otherwise. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): { update(text: string): void; done(): void } {
  let last = 0;
  let shown = '';
  return {
    update(text: string) {
      const now = Date.now();
      if (stream.isTTY) {
        if (now - last < 100) return;
        stream.write(`\r${text.padEnd(shown.length)}`);
      } else {
        if (now - last < 2000) return;
        stream.write(`${text}\n`);
      }
      last = now;
      shown = text;
    },
    done() {
      if (stream.isTTY && shown) stream.write('\n');
    },
  };
}
