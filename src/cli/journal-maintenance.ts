/**
 * `roster journal verify` and `roster journal purge`: the two commands that look after the
 * journal's integrity rather than read it.
 */
import type { Command } from 'commander';
import type { RosterConfig } from '../config/env.js';
import { loadExpectedHeads, parseHeadValue, type ExpectedHead, type ExpectedHeadSource } from '../journal/expected-heads.js';
import { parseHeadSink, type HeadSink } from '../config/head-sink.js';
import { parseDuration } from '../journal/time.js';
import { purgeJournal, PurgeRefusedError } from '../journal/purge.js';
import { verifyJournal, type VerifyReport } from '../journal/verify.js';
import { cliActor } from './cli-actor.js';
import { Progress } from './journal-progress.js';
import { UsageError } from './usage-error.js';
import { withDatabase } from './with-database.js';

/** Exits with a failure status once the database is closed. */
function exitAfterOutput(code: number): never {
  process.exit(code);
}

const fmt = (n: number) => n.toLocaleString('en-US');

function describeStart(report: VerifyReport): string {
  const checkpoint = report.startedAfter.checkpoint;
  if (!checkpoint) return 'from the first entry';
  return `from checkpoint #${checkpoint.id} (positions 1–${fmt(checkpoint.throughSeq)} were purged; signature checked with key ${checkpoint.keyId})`;
}

export function printVerifyReport(report: VerifyReport, out: NodeJS.WritableStream = process.stdout): void {
  if (report.ok) {
    out.write(
      `Journal verified: ${fmt(report.checked)} entries checked ${describeStart(report)}; the chain is intact.\n` +
        `Head: position ${fmt(report.head.seq)}, hash ${report.head.hash}\n` +
        (report.sealed > 0 ? `Keyed seals checked: ${fmt(report.sealed)}.\n` : '') +
        (report.headsChecked > 0
          ? `The chain reaches all ${fmt(report.headsChecked)} head(s) kept outside the database.\n`
          : `Keep the head outside this database (ROSTER_JOURNAL_HEAD_SINK) and verify with --expect-head: a rewound chain is only visible against it.\n`),
    );
    return;
  }
  out.write(
    `Journal verification FAILED after checking ${fmt(report.checked)} intact entries ${describeStart(report)}:\n` +
      `  ${report.finding?.message}\n` +
      `The entries before it are intact. Compare with an earlier export or backup to see what changed, and do not purge until this is resolved.\n`,
  );
}

/** What `--expect-head` names; a UsageError when it names nothing usable. */
function expectedHeadSource(value: string, configuredSink: HeadSink | undefined): ExpectedHeadSource {
  const head = parseHeadValue(value);
  if (head) return { kind: 'value', ...head };
  if (value === 'sink') {
    if (!configuredSink) throw new UsageError('--expect-head sink needs ROSTER_JOURNAL_HEAD_SINK (or give the heads file or URL itself)');
    return { kind: 'sink', sink: configuredSink };
  }
  const sink = parseHeadSink(value);
  if (typeof sink === 'string') throw new UsageError(`--expect-head must be SEQ:HASH (64 hex digits), "sink", a heads file or an http(s) URL: ${sink}`);
  // The configured sink's URL given by hand still needs its Authorization header.
  if (sink.kind === 'http' && configuredSink?.kind === 'http' && configuredSink.url === sink.url) return { kind: 'sink', sink: configuredSink };
  return { kind: 'sink', sink };
}

export function registerJournalMaintenance(journal: Command, journalConfig: () => RosterConfig['journal']): void {
  journal
    .command('verify')
    .description('walk the hash chain and report the first entry that was edited, deleted or inserted (exit 1)')
    .option('--expect-head <head>', 'also check the chain against heads kept outside the database: SEQ:HASH, "sink" (ROSTER_JOURNAL_HEAD_SINK), a heads file, or an http(s) URL')
    .action(async (flags: { expectHead?: string }) => {
      const { keySecret, headSink } = journalConfig();
      const source = flags.expectHead === undefined ? undefined : expectedHeadSource(flags.expectHead, headSink);
      const ok = await withDatabase(async (db, { secrets }) => {
        let expectedHeads: ExpectedHead[] | undefined;
        if (source) {
          const loaded = await loadExpectedHeads(db, source, { keySecret, secrets });
          if ('problem' in loaded) {
            process.stdout.write(`Journal verification FAILED before the walk:\n  ${loaded.problem}\n`);
            return false;
          }
          expectedHeads = loaded.heads;
        }
        let progress: Progress | undefined;
        const report = await verifyJournal(db, {
          keySecret,
          secrets,
          expectedHeads,
          onProgress: (checked, total) => {
            progress ??= new Progress('Verifying', total);
            progress.update(checked);
          },
        });
        progress?.finish();
        printVerifyReport(report);
        return report.ok;
      });
      if (!ok) exitAfterOutput(1);
    });

  journal
    .command('purge')
    .description('remove entries older than the retention period, leaving signed checkpoints (ROSTER_JOURNAL_RETENTION_DAYS)')
    .option('--older-than <duration>', 'e.g. 365d; default: ROSTER_JOURNAL_RETENTION_DAYS days')
    .action(async (flags: { olderThan?: string }) => {
      const { keySecret, retentionDays } = journalConfig();
      let ms: number | undefined;
      if (flags.olderThan !== undefined) {
        ms = parseDuration(flags.olderThan);
        if (ms === undefined || ms <= 0) throw new UsageError(`--older-than must be a duration such as 365d or 12w, not "${flags.olderThan}"`);
      } else if (retentionDays !== undefined) {
        ms = retentionDays * 86_400_000;
      } else {
        throw new UsageError('No retention period: set ROSTER_JOURNAL_RETENTION_DAYS (e.g. 365), or pass --older-than 365d');
      }
      const cutoff = new Date(Date.now() - ms);
      const refused = await withDatabase(async (db, { secrets }) => {
        try {
          const result = await purgeJournal(db, {
            cutoff,
            actor: cliActor(undefined),
            keySecret,
            secrets,
            onProgress: (removed) => process.stderr.write(`Purged ${fmt(removed)} entries so far…\n`),
          });
          process.stdout.write(
            result.removed === 0
              ? `Nothing to purge: no entries older than ${cutoff.toISOString()}.\n`
              : `Purged ${fmt(result.removed)} entries older than ${cutoff.toISOString()} (through position ${fmt(result.throughSeq)}); ` +
                  `${result.checkpoints} signed checkpoint${result.checkpoints === 1 ? '' : 's'} written. \`journal verify\` continues from the newest one.\n`,
          );
          return false;
        } catch (error) {
          if (error instanceof PurgeRefusedError) {
            process.stderr.write(`${error.message}\n`);
            return true;
          }
          throw error;
        }
      });
      if (refused) exitAfterOutput(1);
    });
}
