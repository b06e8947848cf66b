/**
 * `roster sync …`: outbound sync from the command line.
 *   sync <connector> --full [--report-only]   initial sync / reconciliation with a drift report
 *   sync parked <connector>                   objects the target rejected, with the reason
 *   sync retry [connector] [--id <id>]        try parked objects again, now
 *   sync approve <connector>                  lift a mass-change guard pause
 *   sync worker                               run sync workers only (no HTTP), e.g. to scale out
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/env.js';
import { openDatabase } from '../db/database.js';
import { connectionStringOf, migrateToLatest } from '../db/knex.js';
import { logger } from '../logging/logger.js';
import { startWorker } from '../queue/queue.js';
import { loadConnectorsFile } from '../sync/config.js';
import type { FullSyncReport } from '../sync/full-sync.js';
import { reportText } from './sync-report.js';
import { ledgerRecorder } from '../governance/ledger-store.js';
import { listParked } from '../sync/parked.js';
import { approveGuardPause, retryParked, runFullSync } from '../sync/operator-actions.js';
import { startSync } from '../sync/startup.js';
import { cliActor } from './cli-actor.js';
import { connectorNamed, progressPrinter, withConnectors } from './sync-runtime.js';
import { UsageError } from './usage-error.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

export function registerSyncCommands(program: Command): void {
  const sync = program.command('sync').description('outbound sync to downstream SCIM apps (connectors)');

  sync
    .command('run <connector>', { isDefault: true })
    .description('sync a connector: with --full, read the whole target, adopt, report drift and repair it')
    .option('--full', 'initial sync / full reconciliation (required)')
    .option('--report-only', 'report drift and planned changes; change nothing')
    .option('--json', 'print the report as JSON')
    .action(async (name: string, options: { full?: boolean; reportOnly?: boolean; json?: boolean }) => {
      if (!options.full) throw new UsageError(`Changes are pushed continuously by a running Roster. For an initial sync or reconciliation run: npm run roster -- sync ${name} --full [--report-only]`);
      await withConnectors(async (db, connectors) => {
        const connector = connectorNamed(connectors, name);
        const progress = progressPrinter();
        const started = Date.now();
        let report: FullSyncReport;
        try {
          report = await runFullSync(db, connector, cliActor(undefined), {
            reportOnly: options.reportOnly === true,
            findings: ledgerRecorder,
            onProgress: ({ phase, done, total }) => {
              const seconds = (Date.now() - started) / 1000;
              progress.update(`${phase}: ${done}${total ? `/${total}` : ''} (${Math.round(done / Math.max(seconds, 0.001))}/s, ${seconds.toFixed(0)} s)`);
            },
          });
        } finally {
          progress.done();
        }
        if (options.json) out(JSON.stringify(report, null, 2));
        else process.stdout.write(reportText(report));
        if (report.guardPaused) process.exitCode = 3;
      });
    });

  sync
    .command('parked <connector>')
    .description('list objects the target rejected, with the request and the answer')
    .option('--json', 'print as JSON (includes request and response bodies)')
    .action(async (name: string, options: { json?: boolean }) => {
      await withConnectors(async (db, connectors) => {
        connectorNamed(connectors, name);
        const parked = await listParked(db, name);
        if (options.json) return out(JSON.stringify(parked, null, 2));
        if (parked.length === 0) return out(`Nothing is parked for ${name}.`);
        for (const p of parked) {
          out(`${p.resourceType.padEnd(5)} ${p.resourceId}  parked ${p.parkedAt.toISOString()}`);
          out(`      ${p.request?.method ?? ''} ${p.request?.path ?? ''} → ${p.response?.status ?? ''}: ${p.reason}`);
        }
        out(`${parked.length} parked. Fix the object in Roster (a change retries it), or retry now: npm run roster -- sync retry ${name}`);
      });
    });

  sync
    .command('retry [connector]')
    .description('try parked objects again now (all connectors, or one; --id for one object)')
    .option('--id <id>', 'only this User or Group id')
    .action(async (name: string | undefined, options: { id?: string }) => {
      await withConnectors(async (db, connectors) => {
        const targets = name ? [connectorNamed(connectors, name)] : connectors.list;
        const actor = cliActor(undefined);
        let ok = 0;
        let again = 0;
        let later = 0;
        for (const connector of targets) {
          for (const result of await retryParked(db, connector, actor, options.id)) {
            if (result.outcome === 'pushed') ok++;
            else if (result.outcome === 'parked') {
              again++;
              out(`still rejected: ${result.resourceType} ${result.resourceId}: ${result.reason ?? ''}`);
            } else later++;
          }
        }
        out(`Retried ${ok + again + later}: ${ok} pushed, ${again} parked again, ${later} deferred (target unavailable or paused; a running Roster retries them).`);
      });
    });

  sync
    .command('approve <connector>')
    .description('lift the mass-change guard pause of a connector, so its pending changes go out')
    .action(async (name: string) => {
      await withConnectors(async (db, connectors) => {
        connectorNamed(connectors, name);
        const { wasPaused, woken } = await approveGuardPause(db, name, cliActor(undefined));
        if (!wasPaused) return out(`Connector ${name} is not paused.`);
        out(`Approved: ${name} resumes; ${woken} pending change(s) go out now (a running Roster pushes them).`);
      });
    });

  sync
    .command('worker')
    .description('run outbound sync workers only (no HTTP server); run as many as you like')
    .action(async () => {
      const config = loadConfig();
      // The connectors file is checked before the database is touched.
      const connectorConfigs = loadConnectorsFile(config.connectorsFile);
      if (connectorConfigs.length === 0) throw new UsageError('No connectors are configured: set ROSTER_CONNECTORS_FILE (see docs/connectors.md)');
      const database = await openDatabase(config);
      await migrateToLatest(database.knex);
      const runtime = startSync(connectorConfigs, connectionStringOf(database.knex), { findings: ledgerRecorder });
      const runner = await startWorker(connectionStringOf(database.knex), runtime.tasks, { concurrency: runtime.concurrency, pollInterval: 500 });
      out(`Sync worker running for ${runtime.connectors.list.map((c) => c.name).join(', ')} (concurrency ${runtime.concurrency}). Ctrl-C stops it.`);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info('sync worker stopping', { signal });
        await runner.stop();
        await runtime.stop();
        await database.close();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      await runner.promise;
    });
}
