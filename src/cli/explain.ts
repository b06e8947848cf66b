/** `roster explain <userName> [--json]`: each of the user's groups with why (src/policy/explain.ts). */
import type { Command } from 'commander';
import { explainAccess, findUserIdByName, renderExplanation } from '../policy/explain.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';

export function registerExplainCommand(program: Command): void {
  program
    .command('explain <userName>')
    .description("list a user's groups with why: the rule and attribute values, an exception, or who pushed it")
    .option('--json', 'print the explanation as JSON (as GET /ops/users/{id}/access)')
    .action(async (userName: string, options: { json?: boolean }) => {
      await withDatabase(async (db) => {
        const id = await findUserIdByName(db, userName);
        const explanation = id ? await explainAccess(db, id) : undefined;
        if (!explanation) throw new UsageError(`No user with userName "${userName}" (compared case-insensitively)`);
        process.stdout.write(options.json ? `${JSON.stringify(explanation, null, 2)}\n` : `${renderExplanation(explanation)}\n`);
      });
    });
}
