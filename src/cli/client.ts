/**
 * `roster client create|list|revoke|rotate-key`: OAuth clients for identity providers that are
 * configured with a client id, a secret and a token endpoint (the client-credentials grant).
 */
import type { Command } from 'commander';
import { SCOPES } from '../auth/scopes.js';
import { loadConfig } from '../config/env.js';
import { ClientNameTakenError, createClient, listClients, revokeClient } from '../oauth/client-store.js';
import { SigningKeyStore } from '../oauth/signing-keys.js';
import { TOKEN_PATH } from '../oauth/token-endpoint.js';
import { parseScopeOption } from './token.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';

function tokenEndpointUrl(): string {
  const config = loadConfig();
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return `${config.publicUrl ?? `http://${host}:${config.port}`}${TOKEN_PATH}`;
}

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('OAuth 2.0 clients (client-credentials grant) for identity providers');
  client
    .command('create')
    .description('create a client and print its id and secret (the secret only now)')
    .requiredOption('--name <name>', 'who will use it, e.g. entra (shown in the journal)')
    .option('--scope <scope...>', `scopes the client may request: ${SCOPES.join(', ')}`, ['scim:write'])
    .action(async (options: { name: string; scope: string[] }) => {
      const scopes = parseScopeOption(options.scope);
      await withDatabase(async (db) => {
        try {
          const { secret, record } = await createClient(db, options.name, scopes);
          process.stdout.write(
            [
              `OAuth client "${record.name}" (${record.scopes.join(' ')}). Enter these in the identity provider:`,
              `  Token endpoint: ${tokenEndpointUrl()}`,
              `  Client ID:      ${record.clientId}`,
              `  Client secret:  ${secret}`,
              'The secret is shown only now and stored only as a hash; if it is lost, revoke the client and create another.',
              '',
            ].join('\n'),
          );
        } catch (error) {
          if (error instanceof ClientNameTakenError) throw new UsageError(error.message);
          throw error;
        }
      });
    });
  client
    .command('list')
    .description('list clients (never their secrets)')
    .option('--all', 'include revoked clients')
    .action(async (options: { all?: boolean }) => {
      await withDatabase(async (db) => {
        const clients = await listClients(db, options.all === true);
        if (clients.length === 0) process.stdout.write('No OAuth clients. Create one: npm run roster -- client create --name NAME --scope scim:write\n');
        for (const c of clients) {
          const state = c.revokedAt ? `revoked ${c.revokedAt.toISOString()}` : `last token ${c.lastUsedAt?.toISOString() ?? 'never'}`;
          process.stdout.write(`${c.name.padEnd(20)} ${c.clientId.padEnd(22)} ${c.scopes.join(',').padEnd(28)} created ${c.createdAt.toISOString()}  ${state}\n`);
        }
      });
    });
  client
    .command('revoke <name>')
    .description('revoke the active client with this name (or client id); its tokens stop working too')
    .action(async (name: string) => {
      await withDatabase(async (db) => {
        if (!(await revokeClient(db, name))) throw new UsageError(`No active client named "${name}"; see: npm run roster -- client list`);
        process.stdout.write(`Revoked "${name}". It gets no new tokens, and its issued tokens stop working within 5 seconds in every Roster process.\n`);
      });
    });
  client
    .command('rotate-key')
    .description('sign new access tokens with a fresh key now (older keys stay published until their tokens expire)')
    .action(async () => {
      const config = loadConfig();
      await withDatabase(async (db, { secrets }) => {
        const kid = await new SigningKeyStore(db, config.oauth, secrets).rotate();
        process.stdout.write(`New signing key ${kid}. Every Roster process signs with it within a minute; tokens signed before stay valid until they expire.\n`);
      });
    });
}
