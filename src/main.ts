#!/usr/bin/env node
/** The `roster` command line: serve (default), migrate, token. */
import { Command } from 'commander';
import { registerClientCommands } from './cli/client.js';
import { registerConnectorCommands } from './cli/connectors.js';
import { registerSyncCommands } from './cli/sync.js';
import { registerJournalCommands } from './cli/journal.js';
import { registerExplainCommand } from './cli/explain.js';
import { registerGrantCommands } from './cli/grant.js';
import { registerImportCommand } from './cli/import.js';
import { registerLedgerCommands } from './cli/ledger.js';
import { registerRequestCommands } from './cli/requests.js';
import { registerPolicyCommands } from './cli/policy.js';
import { registerReportCommands } from './cli/report.js';
import { registerReviewCommands } from './cli/review.js';
import { registerTokenCommands } from './cli/token.js';
import { serve } from './cli/serve.js';
import { withDatabase } from './cli/with-database.js';
import { loadConfig } from './config/env.js';
import { OperatorError } from './lib/operator-error.js';
import { migrateToLatest } from './db/knex.js';
import { logger, setLogLevel } from './logging/logger.js';


const program = new Command('roster').description('Roster: SCIM 2.0 provisioning gateway');

program
  .command('serve', { isDefault: true })
  .description('start the SCIM server (applies migrations first)')
  .action(async () => {
    const config = loadConfig();
    setLogLevel(config.logLevel);
    await serve(config);
  });

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(async () => {
    await withDatabase(async (db) => {
      const applied = await migrateToLatest(db);
      process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'The database is up to date.\n');
    }, { migrate: false });
  });

registerTokenCommands(program);
registerClientCommands(program);
registerSyncCommands(program);
registerConnectorCommands(program);
registerJournalCommands(program);
registerPolicyCommands(program);
registerExplainCommand(program);
registerGrantCommands(program);
registerReportCommands(program);
registerImportCommand(program);
registerLedgerCommands(program);
registerRequestCommands(program);
registerReviewCommands(program);

program
  .parseAsync(process.argv)
  .then(() => {
    // Exit explicitly: a command that set a failure status must end with it even while the pool or
    // the embedded PostgreSQL's listeners would keep the process alive a moment longer.
    if (typeof process.exitCode === 'number' && process.exitCode !== 0) process.exit(process.exitCode);
  })
  .catch((error: unknown) => {
    // A mistake the operator fixes (src/lib/operator-error.ts): the message says what to do; exit 2.
    if (error instanceof OperatorError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    logger.error('roster failed', { error: (error as Error)?.message });
    process.stderr.write(`${(error as Error)?.message ?? String(error)}\n`);
    process.exit(1);
  });
