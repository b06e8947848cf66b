/**
 * `roster import FILE.csv [--columns columns.yaml] [--dry-run] [--full] [--max-leavers N] [--force]`:
 * HR import through the write path (src/import/hr-import.ts), with progress on stderr and a summary
 * of created / updated / unchanged / rejected rows (each rejection with its row and reason).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/env.js';
import { DEFAULT_COLUMNS_FILE, defaultColumnsFile, readColumnsFile } from '../import/columns-file.js';
import { importHr, type ImportReport } from '../import/hr-import.js';
import { cliActor } from './cli-actor.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';
import { cliWritePath } from './write-path.js';

function summary(report: ImportReport, seconds: number): string {
  const lines = [
    `${report.dryRun ? 'Dry run (nothing written): ' : ''}${report.rows} rows in ${seconds.toFixed(1)} s: ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged, ${report.rejected.length} rejected` +
      (report.leavers ? `, ${report.leavers} leaver(s) deactivated` : ''),
  ];
  for (const r of report.rejected) lines.push(`  row ${r.row}${r.employeeNumber ? ` (${r.employeeNumber})` : ''}: ${r.reason}`);
  return lines.join('\n') + '\n';
}

export function registerImportCommand(program: Command): void {
  program
    .command('import <file>')
    .description('import an HR export (CSV): upsert users by employee number through the write path')
    .option('--columns <path>', `columns file mapping CSV headers to SCIM attributes (default: ROSTER_HR_COLUMNS_FILE, else ${DEFAULT_COLUMNS_FILE})`)
    .option('--dry-run', 'report what would change without writing')
    .option('--full', 'the file lists everyone: deactivate people with an employee number who are missing from it')
    .option('--max-leavers <n>', 'most people --full may deactivate (default: 10% of users)')
    .option('--force', 'with --full, deactivate even more than --max-leavers')
    .option('--as <name>', 'operator name for the journal (default: your OS user)')
    .action(async (file: string, options: { columns?: string; dryRun?: boolean; full?: boolean; maxLeavers?: string; force?: boolean; as?: string }) => {
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch {
        throw new UsageError(`Cannot read ${file}; give the path of an HR export in CSV`);
      }
      const maxLeavers = options.maxLeavers === undefined ? undefined : Number(options.maxLeavers);
      if (maxLeavers !== undefined && (!Number.isInteger(maxLeavers) || maxLeavers < 0)) throw new UsageError('--max-leavers must be a whole number');
      const columns = await readColumnsFile(options.columns ?? defaultColumnsFile(loadConfig().hrColumnsFile));
      // The server's hooks: the policy, and the outbox when connectors are configured.
      const writePathOn = cliWritePath();
      await withDatabase(async (db) => {
        const writePath = writePathOn(db);
        const started = Date.now();
        let lastPrint = 0;
        const actor = cliActor(options.as, 'import');
        const report = await importHr(writePath, text, columns, {
          actor: { ...actor, name: `import:${path.basename(file)} (${actor.name.replace(/^cli:/, '')})` },
          dryRun: options.dryRun === true,
          full: options.full === true,
          force: options.force === true,
          ...(maxLeavers !== undefined ? { maxLeavers } : {}),
          onProgress: (p) => {
            if (Date.now() - lastPrint < 1000 && p.done < p.total) return;
            lastPrint = Date.now();
            process.stderr.write(`  written ${p.done}/${p.total} (${p.created} created, ${p.updated} updated, ${p.unchanged} unchanged, ${p.rejected} rejected)\n`);
          },
        });
        process.stdout.write(summary(report, (Date.now() - started) / 1000));
      });
    });
}
