/** `roster connectors status`: per connector, what is waiting, what failed, and whether it is held. */
import type { Command } from 'commander';
import { connectorStatuses, type ConnectorStatus } from '../sync/status.js';
import { withConnectors } from './sync-runtime.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

function describe(s: ConnectorStatus): string[] {
  const age = s.oldestPendingSeconds === null ? '' : `, oldest ${s.oldestPendingSeconds} s`;
  const circuit = s.circuit.state === 'closed' ? 'closed' : `${s.circuit.state}${s.circuit.until ? ` until ${s.circuit.until}` : ''}`;
  const lines = [
    `${s.name} (${s.profile}) → ${s.baseUrl}${s.dryRun ? '  [DRY RUN: nothing is sent]' : ''}`,
    `  queue: ${s.queueDepth} pending${age}   parked: ${s.parked}   circuit: ${circuit}`,
    `  managed: ${s.managed.users} users, ${s.managed.groups} groups   last success: ${s.lastSuccessAt ?? 'never'}   last full sync: ${s.lastFullSyncAt ?? 'never'}`,
  ];
  if (s.lastError) lines.push(`  last error (${s.lastFailureAt}): ${s.lastError}`);
  if (s.paused) lines.push(`  PAUSED since ${s.paused.at}: ${s.paused.reason ?? ''}`, `    approve with: npm run roster -- sync approve ${s.name}`);
  if (s.parked > 0) lines.push(`  see parked objects: npm run roster -- sync parked ${s.name}`);
  return lines;
}

export function registerConnectorCommands(program: Command): void {
  const connectors = program.command('connectors').description('outbound connectors');
  connectors
    .command('status')
    .description('queue depth, oldest pending change, last success, parked count, circuit, dry-run flag')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      await withConnectors(async (db, set) => {
        const statuses = await connectorStatuses(db, set);
        if (options.json) return out(JSON.stringify(statuses, null, 2));
        for (const status of statuses) for (const line of describe(status)) out(line);
      });
    });
}
