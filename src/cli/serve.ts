/**
 * `roster serve` (what `npm start` runs): open the database, apply migrations, make sure a token
 * exists, listen, print how to call Roster, and shut down cleanly on SIGTERM/SIGINT.
 */
import type { Server } from 'node:http';
import { refusedCredentials } from '../auth/refused-credentials.js';
import { countActiveTokens, createToken } from '../auth/token-store.js';
import { composeWritePath } from '../compose/write-path.js';
import { SCOPES } from '../auth/scopes.js';
import type { RosterConfig } from '../config/env.js';
import { openDatabase, type OpenDatabase } from '../db/database.js';
import { connectionStringOf, migrateToLatest } from '../db/knex.js';
import { describePolicyChoice } from '../policy/load.js';
import { readStartupPolicy, startPolicy, type StartupPolicy } from '../policy/startup.js';
import { policyTasks } from '../policy/tasks.js';
import { reviewTasks } from '../governance/review-deadline.js';
import { startWorker } from '../queue/queue.js';
import { loadConnectorsFile, type ConnectorConfig } from '../sync/config.js';
import { startSync } from '../sync/startup.js';
import { ledgerRecorder } from '../governance/ledger-store.js';
import { requestTasks } from '../governance/request-tasks.js';
import { createApp } from '../compose/app.js';
import { logger } from '../logging/logger.js';
import { answerMalformedRequests } from '../http/client-error.js';
import { openSecrets } from '../secrets/startup.js';
import { HeadPublisher } from '../journal/head-publisher.js';
import { describeSink } from '../journal/head-sinks.js';
import { startJournalKeys } from '../journal/process-keys.js';

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
  const secrets = await openSecrets(database.knex, config.secrets, { embedded: database.embedded, dataDir: config.dataDir });
  const journalKey = await startJournalKeys(database.knex, config.journal.keySecret, secrets);
  const { headSink, headIntervalSeconds } = config.journal;
  const headPublisher = headSink ? new HeadPublisher(database.knex, headSink, journalKey, headIntervalSeconds) : undefined;
  if (headSink) logger.info('publishing signed journal heads', { sink: describeSink(headSink), everySeconds: headIntervalSeconds });
  else if (!database.embedded) logger.warn('ROSTER_JOURNAL_HEAD_SINK is not set: no journal head is kept outside the database (docs/security.md)');

  let firstToken: string | undefined;
  if (!config.bootstrapToken && (await countActiveTokens(database.knex)) === 0) {
    firstToken = (await createToken(database.knex, 'bootstrap', [...SCOPES])).token;
  }

  // Scheduled reconciliations record their orphans and drift in the governance ledger.
  const sync = startSync(connectorConfigs, connectionStringOf(database.knex), { findings: ledgerRecorder });
  const writePath = composeWritePath(database.knex, { policy: policyFile !== undefined, connectors: sync.connectors, metrics: true });
  await startPolicy(writePath, policyFile);
  // One worker per process runs every queue task; merge other task lists here.
  const worker = await startWorker(
    connectionStringOf(database.knex),
    { ...policyTasks(writePath), ...requestTasks(writePath, config.requests.notify), ...reviewTasks(writePath, () => sync.connectors, config.requests.notify), ...sync.tasks },
    { concurrency: 4 + sync.concurrency },
  );
  const refusals = refusedCredentials(database.knex, config.authFailures);
  const app = createApp({ db: database.knex, writePath, config, refusals, secrets });
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(config.port, config.host, () => resolve(listening));
  });
  answerMalformedRequests(server);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const origin = config.publicUrl ?? `http://${host}:${port}`;
  printWelcome(`${origin}/scim/v2`, `${origin}/console`, firstToken, config.bootstrapToken !== undefined, database.embedded, policyLine);
  headPublisher?.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await refusals.journal.close(); // the refusals counted in the current window
    await headPublisher?.stop(); // the last head, after the last entries
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

function printWelcome(baseUrl: string, consoleUrl: string, firstToken: string | undefined, bootstrapFromEnv: boolean, embedded: boolean, policyLine: string): void {
  const lines = [
    '',
    `Roster is running. SCIM base URL: ${baseUrl}`,
    `  Ops console: ${consoleUrl} (sign in with your company account if configured, or a token with ops:read; docs/console.md)`,
    embedded ? '  Database: embedded PostgreSQL (set DATABASE_URL to use your own server)' : '  Database: DATABASE_URL',
    `  ${policyLine}`,
  ];
  if (firstToken) {
    lines.push(
      `  Bearer token (shown once, all scopes): ${firstToken}`,
      `  Try: curl -H "Authorization: Bearer ${firstToken}" ${baseUrl}/Users`,
      `  Console: open ${consoleUrl}/sign-in and paste this token`,
    );
  } else if (bootstrapFromEnv) {
    lines.push('  Bearer token: the value of ROSTER_BOOTSTRAP_TOKEN (all scopes)', `  Try: curl -H "Authorization: Bearer $ROSTER_BOOTSTRAP_TOKEN" ${baseUrl}/Users`);
  } else {
    lines.push('  Bearer token: the one printed at first start, or make one: npm run roster -- token create --name me --scope scim:write');
  }
  process.stdout.write(lines.join('\n') + '\n\n');
}
