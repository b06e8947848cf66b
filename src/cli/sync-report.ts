/**
 * The text of a full sync's report (`sync <connector> --full`). A run that changed nothing (report
 * only, or a dry-run connector) speaks in the conditional: "would adopt", "to create"; per
 * adoption it lists the remote values taking the account over will overwrite, so an operator sees
 * an existing externalId or a userName in another case before anything is written.
 */
import type { Adoption, FullSyncReport } from '../sync/full-sync.js';

const LISTED = 50;

function value(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : v === undefined ? '(none)' : JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function adoptionLine(adoption: Adoption): string {
  const head = `    ${adoption.type} ${adoption.name} (${adoption.id}) ↔ remote ${adoption.remoteId}, matched on ${adoption.matchedOn}`;
  if (adoption.overwrites.length === 0) return `${head}; nothing on the target is overwritten`;
  const changes = adoption.overwrites.map((o) => `${o.attribute} ${value(o.remote)} → ${value(o.desired)}`);
  return `${head}; overwrites ${changes.join(', ')}`;
}

export function reportText(report: FullSyncReport): string {
  const lines: string[] = [];
  const out = (line = '') => lines.push(line);
  const applied = !report.reportOnly && !report.dryRun;
  const how = report.reportOnly ? 'report only (nothing was changed)' : report.dryRun ? 'dry run (nothing was sent; the requests are in the journal as sync.dry-run)' : 'reconciled';
  out(`Connector ${report.connector}: ${how} in ${(report.durationMs / 1000).toFixed(1)} s`);
  out(`  on the target:   ${report.remote.users} users, ${report.remote.groups} groups`);
  out(`  in scope:        ${report.inScope.users} users, ${report.inScope.groups} groups`);
  out(`  ${applied ? 'created' : 'to create'}:${applied ? '        ' : '      '}${report.toCreate.users} users, ${report.toCreate.groups} groups`);
  out(`  ${applied ? 'adopted:     ' : 'would adopt: '}    ${report.adopted.users} users, ${report.adopted.groups} groups (matched existing accounts)`);
  for (const adoption of report.adoptions.slice(0, LISTED)) out(adoptionLine(adoption));
  const unlisted = report.adopted.users + report.adopted.groups - Math.min(report.adoptions.length, LISTED);
  if (unlisted > 0) out(`    … and ${unlisted} more (all listed with --json)`);
  out(`  ${applied ? 'deprovisioned' : 'to deprovision'}:${applied ? '  ' : ' '}${report.toDeprovision.users} users, ${report.toDeprovision.groups} groups`);
  out(`  drift:           ${report.drift.length} object(s)`);
  for (const drift of report.drift.slice(0, LISTED)) {
    const detail =
      drift.kind === 'attributes' ? `attributes differ: ${drift.attributes?.join(', ')}` : drift.kind === 'members' ? `members differ: ${drift.membersMissing} missing, ${drift.membersExtra} extra on the target` : 'missing on the target';
    out(`    ${drift.type} ${drift.name} (${drift.id}): ${detail}`);
  }
  if (report.drift.length > LISTED) out(`    … and ${report.drift.length - LISTED} more (all listed with --json)`);
  out(`  not managed by Roster: ${report.unmanaged.userCount} users, ${report.unmanaged.groupCount} groups (left alone)`);
  for (const name of [...report.unmanaged.users, ...report.unmanaged.groups]) out(`    ${name}`);
  if (report.unmanaged.userCount + report.unmanaged.groupCount + report.drift.length > 0) {
    out(`  every orphan and drift is in the ledger: npm run roster -- ledger --connector ${report.connector} (docs/governance.md)`);
  }
  if (applied) out(`  results:         ${report.results.done} in sync, ${report.results.parked} parked, ${report.results.retry + report.results.waiting} queued to retry`);
  if (report.guardPaused) {
    out('');
    out(`PAUSED by the mass-change guard: this run would deprovision ${report.toDeprovision.users + report.toDeprovision.groups} objects. Nothing was sent.`);
    out(`Check the report, then approve with: npm run roster -- sync approve ${report.connector}`);
  }
  if (report.results.parked > 0) out(`See why objects were parked: npm run roster -- sync parked ${report.connector}`);
  return `${lines.join('\n')}\n`;
}
