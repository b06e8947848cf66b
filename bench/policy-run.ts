/** `tsx bench/policy-run.ts`: only the policy and HR-import measurements of `npm run bench`. */
import { openDatabaseServer } from './database.js';
import { renderPolicyRows, runPolicyBench } from './policy.js';

const log = (line: string) => process.stdout.write(`${line}\n`);
const server = await openDatabaseServer(log);
try {
  const rows = await runPolicyBench(server, log);
  process.stdout.write(`\n${renderPolicyRows(rows)}\n`);
} finally {
  await server.stop();
}
