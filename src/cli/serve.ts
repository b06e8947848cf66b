/**
 * `roster serve` (what `npm start` runs): open the database, apply migrations, make sure a token
 * exists, listen, print how to call Roster, and shut down cleanly on SIGTERM/SIGINT.
 */
import type { Server } from 'node:http';
import { countActiveTokens, createToken } from '../auth/token-store.js';
import { composeWritePath } from '../compose.js';
import { SCOPES } from '../auth/scopes.js';
import type { RosterConfig } from '../config/env.js';
import { openDatabase, type OpenDatabase } from '../db/database.js';
import { connectionStringOf, migrateToLatest } from '../db/knex.js';
import { describePolicyChoice } from '../policy/load.js';
import { readStartupPolicy, startPolicy, type StartupPolicy } from '../policy/startup.js';
import { policyTasks } from '../policy/tasks.js';
import { startWorker } from '../queue/queue.js';
import { loadConnectorsFile, type ConnectorConfig } from '../sync/config.js';
import { startSync } from '../sync/startup.js';
import { ledgerRecorder } from '../governance/ledger-store.js';
import { createApp } from '../http/app.js';
import { logger } from '../logging/logger.js';
import { answerMalformedRequests } from '../http/client-error.js';

export async function serve(config: RosterConfig): Promise<void> {
  // A bad connectors or policy file stops start-up here, before the database is opened or migrated.
  const connectorConfigs = loadConnectorsFile(config.connectorsFile);
  const { choice, startup } = await readStartupPolicy(config.policyFile, config.databaseUrl === undefined);
  logger.info(describePolicyChoice(choice));
  const database = await openDatabase(config);
  try {
    await startServing(config, database, connectorConfigs, startup, describePolicyChoice(choice));
  } catch (error) {
    // Start-up failed (the policy would revoke too much, say): stop the embedded PostgreSQL too.
    await database.close().catch(() => undefined);
    throw error;
  }
}

async function startServing(
  config: RosterConfig,
  database: OpenDatabase,
  connectorConfigs: ConnectorConfig[],
  policyFile: StartupPolicy,
  policyLine: string,
): Promise<void> {
  const applied = await migrateToLatest(database.knex);
  if (applied.length > 0) logger.info('migrations applied', { applied });

  let firstToken: string | undefined;
  if (!config.bootstrapToken && (await countActiveTokens(database.knex)) === 0) {
    firstToken = (await createToken(database.knex, 'bootstrap', [...SCOPES])).token;
  }

  // Scheduled reconciliations record their orphans and drift in the governance ledger.
  const sync = startSync(connectorConfigs, connectionStringOf(database.knex), { findings: ledgerRecorder });
  const writePath = composeWritePath(database.knex, { policy: policyFile !== undefined, connectors: sync.connectors, metrics: true });
  await startPolicy(writePath, policyFile);
  // One worker per process runs every queue task; merge other task lists here.
  const worker = await startWorker(connectionStringOf(database.knex), { ...policyTasks(writePath), ...sync.tasks }, { concurrency: 4 + sync.concurrency });
  const app = createApp({ db: database.knex, writePath, config });
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(config.port, config.host, () => resolve(listening));
  });
  answerMalformedRequests(server);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const baseUrl = `${config.publicUrl ?? `http://${host}:${port}`}/scim/v2`;
  printWelcome(baseUrl, firstToken, config.bootstrapToken !== undefined, database.embedded, policyLine);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await worker.stop();
    await sync.stop();
    await database.close();
    process.exit(0);
  };
  // The embedded PostgreSQL's own listeners would stop it on SIGTERM/SIGINT at once, under the feet
  // of the worker and the pools (postgres-cluster.ts). Roster stops it itself, last, in `shutdown`.
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

function printWelcome(baseUrl: string, firstToken: string | undefined, bootstrapFromEnv: boolean, embedded: boolean, policyLine: string): void {
  const lines = [
    '',
    `Roster is running. SCIM base URL: ${baseUrl}`,
    embedded ? '  Database: embedded PostgreSQL (set DATABASE_URL to use your own server)' : '  Database: DATABASE_URL',
    `  ${policyLine}`,
  ];
  if (firstToken) {
    lines.push(
      `  Bearer token (shown once, all scopes): ${firstToken}`,
      `  Try: curl -H "Authorization: Bearer ${firstToken}" ${baseUrl}/Users`,
    );
  } else if (bootstrapFromEnv) {
    lines.push('  Bearer token: the value of ROSTER_BOOTSTRAP_TOKEN (all scopes)', `  Try: curl -H "Authorization: Bearer $ROSTER_BOOTSTRAP_TOKEN" ${baseUrl}/Users`);
  } else {
    lines.push('  Bearer token: the one printed at first start, or make one: npm run roster -- token create --name me --scope scim:write');
  }
  process.stdout.write(lines.join('\n') + '\n\n');
}
