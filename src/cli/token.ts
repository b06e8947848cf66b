import type { Command } from 'commander';
import { createToken, listTokens, revokeToken, TokenNameTakenError } from '../auth/token-store.js';
import { isScope, SCOPES, type Scope } from '../auth/scopes.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('create, list and revoke bearer tokens');
  token
    .command('create')
    .description('create a token and print it once')
    .requiredOption('--name <name>', 'who will use it, e.g. entra or okta (shown in the journal)')
    .option('--scope <scope...>', `scopes: ${SCOPES.join(', ')}`, ['scim:write'])
    .action(async (options: { name: string; scope: string[] }) => {
      const scopes = parseScopeOption(options.scope);
      await withDatabase(async (db) => {
        try {
          const { token: secret, record } = await createToken(db, options.name, scopes);
          process.stdout.write(`Token "${record.name}" (${record.scopes.join(' ')}), shown only now:\n${secret}\n`);
        } catch (error) {
          if (error instanceof TokenNameTakenError) throw new UsageError(error.message);
          throw error;
        }
      });
    });
  token
    .command('list')
    .description('list tokens (never their values)')
    .option('--all', 'include revoked tokens')
    .action(async (options: { all?: boolean }) => {
      await withDatabase(async (db) => {
        const tokens = await listTokens(db, options.all === true);
        if (tokens.length === 0) process.stdout.write('No tokens. Create one: npm run roster -- token create --name NAME --scope scim:write\n');
        for (const t of tokens) {
          const state = t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : `last used ${t.lastUsedAt?.toISOString() ?? 'never'}`;
          process.stdout.write(`${t.name.padEnd(20)} ${t.scopes.join(',').padEnd(32)} created ${t.createdAt.toISOString()}  ${state}\n`);
        }
      });
    });
  token
    .command('revoke <name>')
    .description('revoke the active token with this name (or id)')
    .action(async (name: string) => {
      await withDatabase(async (db) => {
        if (!(await revokeToken(db, name))) throw new UsageError(`No active token named "${name}"; see: npm run roster -- token list`);
        process.stdout.write(`Revoked "${name}". It stops working within 5 seconds in every Roster process.\n`);
      });
    });
}

/** `--scope a,b --scope c` → checked scopes; an unknown one is a usage error naming the choices. */
export function parseScopeOption(values: string[]): Scope[] {
  const scopes = values.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const unknown = scopes.filter((s) => !isScope(s));
  if (unknown.length) throw new UsageError(`Unknown scope ${unknown.join(', ')}; choose from ${SCOPES.join(', ')}`);
  return scopes as Scope[];
}
