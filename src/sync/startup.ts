/**
 * Outbound sync in a Roster process: build the connectors from the validated connectors file and
 * prepare the queue tasks on a database pool of their own. `serve` and `sync worker` both start
 * here; they read the file (loadConnectorsFile: an invalid file stops start-up with the connector,
 * key and fix) before they open the database, so a bad file fails fast and touches nothing.
 *
 *   const configs = loadConnectorsFile(config.connectorsFile);   // before openDatabase
 *   const sync = startSync(configs, url);
 *   composeWritePath(db, { …, connectors: sync.connectors })   // the outbox hook (src/compose/write-path.ts)
 *   startWorker(url, { ...otherTasks, ...sync.tasks }, { concurrency: … + sync.concurrency })
 */
import type { TaskList } from 'graphile-worker';
import { logger } from '../logging/logger.js';
import type { ConnectorConfig } from './config.js';
import { ConnectorSet } from './connector.js';
import { setActiveConnectors } from './registry.js';
import type { FindingsRecorder } from './full-sync.js';
import { createSyncDatabase, createSyncWorker, syncConcurrency } from './worker.js';

export interface SyncRuntime {
  connectors: ConnectorSet;
  tasks: TaskList;
  /** Worker slots the sync tasks want (0 without connectors). */
  concurrency: number;
  stop(): Promise<void>;
}

export function startSync(configs: readonly ConnectorConfig[], connectionString: string, options: { findings?: FindingsRecorder } = {}): SyncRuntime {
  const connectors = ConnectorSet.fromConfig(configs);
  setActiveConnectors(connectors);
  if (connectors.size === 0) return { connectors, tasks: {}, concurrency: 0, stop: async () => undefined };

  const concurrency = syncConcurrency(connectors);
  const db = createSyncDatabase(connectionString, concurrency);
  const worker = createSyncWorker({ db, connectors, findings: options.findings });
  logger.info('outbound connectors', { connectors: connectors.list.map((c) => `${c.name} (${c.profile.name}${c.config.dryRun ? ', dry run' : ''})`) });
  return {
    connectors,
    tasks: worker.tasks,
    concurrency,
    async stop() {
      await worker.stop();
      await db.destroy();
    },
  };
}
