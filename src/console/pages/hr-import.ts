/**
 * HR import: upload an HR export (CSV), see the dry run `roster import --dry-run` prints (rows
 * created, updated, unchanged, rejected with row and reason, leavers), then apply the same file
 * through `importHr`, the code the CLI runs, under the same leaver guard. The upload is kept
 * between the two steps in console_uploads, bound to the session.
 */
import type { ImportReport } from '../../import/hr-import.js';
import { html, type Html } from '../html.js';
import { csrfField, notice } from '../layout.js';
import type { ConsoleSession } from '../session-store.js';

/** `columnsFile`: the one used when none is uploaded (ROSTER_HR_COLUMNS_FILE, else the sample's). */
export function importForm(session: ConsoleSession, columnsFile: string): Html {
  return html`<form class="stack" method="post" action="/console/import/preview" enctype="multipart/form-data">${csrfField(session)}
    <label for="csv">HR export (CSV)</label><input id="csv" name="csv" type="file" accept=".csv,text/csv" required>
    <label for="columns">Columns file (YAML; optional, default ${columnsFile})</label><input id="columns" name="columns" type="file" accept=".yaml,.yml">
    <label for="full"><span><input id="full" name="full" type="checkbox" value="on"> The file lists everyone: deactivate people missing from it (leavers)</span></label>
    <div><button type="submit">Dry run</button></div></form>`;
}

export function reportBody(report: ImportReport, fileName: string): Html {
  return html`<p>${report.dryRun ? 'Dry run of' : 'Imported'} <strong>${fileName}</strong>: ${report.rows} rows.</p>
    <ul class="cards"><li><span class="n">${report.created}</span>${report.dryRun ? 'to create' : 'created'}</li><li><span class="n">${report.updated}</span>${report.dryRun ? 'to update' : 'updated'}</li>
      <li><span class="n">${report.unchanged}</span>unchanged</li><li><span class="n">${report.rejected.length}</span>rejected</li><li><span class="n">${report.leavers}</span>${report.dryRun ? 'leavers to deactivate' : 'leavers deactivated'}</li></ul>
    ${report.rejected.length
      ? html`<table><caption>Rejected rows</caption><thead><tr><th scope="col">Row</th><th scope="col">Employee number</th><th scope="col">Reason</th></tr></thead><tbody>${report.rejected.map(
          (r) => html`<tr><td>${r.row}</td><td>${r.employeeNumber ?? '—'}</td><td>${r.reason}</td></tr>`,
        )}</tbody></table>`
      : ''}`;
}

export function applyForm(session: ConsoleSession, uploadId: string, report: ImportReport, canApply: boolean): Html {
  if (!canApply) return html`<p class="muted">Applying needs the operator role.</p>`;
  if (report.created + report.updated + report.leavers === 0) return notice('info', 'Nothing to apply: the file would change nobody.');
  return html`<form method="post" action="/console/import/apply" data-confirm="Write ${report.created + report.updated} change(s) and ${report.leavers} deactivation(s)?">${csrfField(session)}
    <input type="hidden" name="upload" value="${uploadId}"><button type="submit">Apply this file</button>
    <span class="muted">Rejected rows are skipped; they can be fixed in the HR system and imported again.</span></form>`;
}
