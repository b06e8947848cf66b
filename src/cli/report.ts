/** `roster report access [--group NAME] [--format text|csv|json]`: who holds what and why. */
import type { Command } from 'commander';
import { accessReport, accessReportCsv, accessReportText } from '../policy/access-report.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';

export function registerReportCommands(program: Command): void {
  const report = program.command('report').description('reports for access reviews');
  report
    .command('access')
    .description('every group membership with its basis: policy roles, exception, or pushed by the IdP')
    .option('--group <name>', 'only this group')
    .option('--format <format>', 'text, csv or json', 'text')
    .action(async (options: { group?: string; format: string }) => {
      if (!['text', 'csv', 'json'].includes(options.format)) throw new UsageError(`--format must be text, csv or json, not "${options.format}"`);
      await withDatabase(async (db) => {
        const rows = await accessReport(db, options.group ? { group: options.group } : {});
        if (options.group && rows.length === 0) {
          const exists = await db('groups').whereRaw(`lower(resource->>'displayName') = lower(?)`, [options.group]).first();
          if (!exists) throw new UsageError(`No group named "${options.group}"`);
        }
        process.stdout.write(options.format === 'csv' ? accessReportCsv(rows) : options.format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : accessReportText(rows));
      });
    });
}
