/**
 * Roster A for outbound-sync tests: a real Roster on loopback (startTestServer) with connectors,
 * the outbox hook on its write path, and a real graphile-worker running the sync tasks against
 * its database, exactly as `serve` wires them.
 */
import type { Runner } from 'graphile-worker';
import type { Knex } from 'knex';
import { startWorker } from '../../src/queue/queue.js';
import { parseConnectors } from '../../src/sync/config.js';
import { ConnectorSet } from '../../src/sync/connector.js';
import { setActiveConnectors } from '../../src/sync/registry.js';
import { createSyncDatabase, createSyncWorker, syncConcurrency } from '../../src/sync/worker.js';
import { startTestServer, type TestServer } from './server.js';

export interface RosterA {
  server: TestServer;
  connectors: ConnectorSet;
  syncDb: Knex;
  /** Starts the worker (started by default). */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export async function startRosterA(connectors: unknown[], env: Record<string, string>, options: { worker?: boolean; server?: Parameters<typeof startTestServer>[0] } = {}): Promise<RosterA> {
  const set = ConnectorSet.fromConfig(parseConnectors({ connectors }, env));
  const server = await startTestServer({ ...options.server, connectors: set });
  setActiveConnectors(set); // what `serve` does, for GET /ops/connectors
  const concurrency = syncConcurrency(set);
  const syncDb = createSyncDatabase(server.db.url, concurrency);
  let runner: Runner | undefined;
  let stopSync: (() => Promise<void>) | undefined;
  const a: RosterA = {
    server,
    connectors: set,
    syncDb,
    async startWorker() {
      const sync = createSyncWorker({ db: syncDb, connectors: set, heartbeatMs: 500, staleMs: 3000 });
      stopSync = () => sync.stop();
      runner = await startWorker(server.db.url, sync.tasks, { concurrency, pollInterval: 200 });
    },
    async stopWorker() {
      await runner?.stop();
      await stopSync?.();
      runner = undefined;
      stopSync = undefined;
    },
    async close() {
      await a.stopWorker();
      await syncDb.destroy();
      await server.close();
    },
  };
  if (options.worker !== false) await a.startWorker();
  return a;
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Pending sync jobs in A's queue (0 = everything pushed or parked). */
export async function pendingJobs(db: Knex): Promise<number> {
  const { rows } = await db.raw(`SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = 'roster.sync'`);
  return rows[0].n;
}
