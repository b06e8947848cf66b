/**
 * HR import: reads an HR export (CSV), maps and cleans each row (row-to-user.ts), and upserts users
 * by employee number through the write path's batch API (source "import"): a few hundred rows per
 * transaction, written set-wise, each user with its own journal entry, so the policy evaluates
 * every joiner, mover and leaver in the same transaction. Rows that cannot become a valid user are
 * rejected with their row number and reason before anything is written (and a batch that fails
 * anyway is redone row by row); the rest still load (docs/decisions/0106).
 * A row equal to the stored user is not written at all, so re-importing a file changes nothing and
 * journals nothing. `full` treats active people missing from the file as leavers (active=false),
 * under the same mass-change guard as `policy apply`.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'csv-parse/sync';
import type { Actor } from '../journal/entry.js';
import { createValidatedUsers, replaceUsers } from '../resources/users.js';
import { ScimError } from '../scim/errors.js';
import { ENTERPRISE_USER_SCHEMA } from '../scim/schema/urns.js';
import { validateResourceBody } from '../scim/validate.js';
import type { WriteContext, WritePath } from '../write/write-path.js';
import { ColumnsError, type ColumnsConfig } from './columns-file.js';
import type { Target } from './columns-file.js';
import { cleanRow, cleanValue, RowRejected, rowToUser, withReference, withSchemas } from './row-to-user.js';
import { OperatorError } from '../lib/operator-error.js';

export interface Rejection {
  row: number;
  employeeNumber?: string;
  reason: string;
}

export interface ImportReport {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: Rejection[];
  leavers: number;
  dryRun: boolean;
}

export interface ImportOptions {
  actor: Actor;
  dryRun?: boolean;
  full?: boolean;
  /** Most leavers `full` may deactivate; default 10% of all users. */
  maxLeavers?: number;
  force?: boolean;
  batchSize?: number;
  /** After each batch (awaited, so it may write between batches). */
  onProgress?: (progress: { done: number; total: number } & Omit<ImportReport, 'rejected' | 'dryRun'> & { rejected: number }) => unknown;
}

export class ImportGuardError extends OperatorError {
  override name = 'ImportGuardError';
}

interface StoredUser {
  id: string;
  userName: string;
  employeeNumber: string | null;
  resource: Record<string, unknown>;
}

type Write = {
  kind: 'create' | 'update';
  row: number;
  employeeNumber: string;
  /** The user's id; for creates chosen up front, so people created in the same batch can be referenced. */
  id?: string;
  body: Record<string, unknown>;
  /** For creates: the validated document; a manager created earlier is set in it when written. */
  resource?: Record<string, unknown>;
  managerNumber?: string;
  /** Where the manager's id goes, when it could not be resolved before writing. */
  managerTarget?: Target;
  /** For creates: written in a transaction not yet ended (inflight), committed (done) or rejected (failed). */
  status?: 'inflight' | 'done' | 'failed';
  /** For creates: the manager could not be resolved when the body was built. */
  managerUnresolved?: boolean;
};

/** scimmy's validation, by its cheaper equivalent for the plain documents the import builds. */
const FAST = { fast: true } as const;

export function readCsv(text: string, config: ColumnsConfig): Array<Record<string, string>> {
  let records: Array<Record<string, string>>;
  try {
    records = parse(text, { columns: true, bom: true, skip_empty_lines: true, relax_column_count: true, trim: false }) as Array<Record<string, string>>;
  } catch (error) {
    throw new ColumnsError(`The file is not valid CSV: ${(error as Error).message}`);
  }
  const header = new Set(Object.keys(records[0] ?? {}));
  const missing = [...config.columns.map((c) => c.column), ...(config.active ? [config.active.column] : [])].filter((c) => records.length > 0 && !header.has(c));
  if (missing.length) {
    throw new ColumnsError(`The file has no column ${missing.map((c) => `"${c}"`).join(', ')}; its header is: ${[...header].join(', ')}. Fix the columns file (${config.sourceName}).`);
  }
  return records;
}

async function loadStoredUsers(writePath: WritePath): Promise<StoredUser[]> {
  const { rows } = (await writePath.db.raw(
    `SELECT id, resource->>'userName' AS "userName", resource->?->>'employeeNumber' AS "employeeNumber",
            CASE WHEN resource->?->>'employeeNumber' IS NOT NULL THEN resource END AS resource
       FROM users`,
    [ENTERPRISE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
  )) as { rows: StoredUser[] };
  return rows;
}

/**
 * Whether the row leaves the stored user as it is. The cheap comparison (built document against
 * the stored one) settles the common re-import case without schema validation, which costs about
 * a millisecond per user; only when it differs is the body validated and compared canonically.
 */
function isUnchanged(body: Record<string, unknown>, stored: Record<string, unknown>): boolean {
  const { schemas: _schemas, ...document } = body;
  if (isDeepStrictEqual(document, stored)) return true;
  return isDeepStrictEqual(validateResourceBody('User', body, FAST).resource, stored);
}

const reasonOf = (error: unknown) => (error instanceof RowRejected || error instanceof ScimError ? error.message : 'could not be stored (see the log)');

export async function importHr(writePath: WritePath, csvText: string, config: ColumnsConfig, options: ImportOptions): Promise<ImportReport> {
  const records = readCsv(csvText, config);
  const stored = await loadStoredUsers(writePath);
  const byEmployee = new Map(stored.filter((u) => u.employeeNumber).map((u) => [u.employeeNumber!.toLowerCase(), u]));
  const byUserName = new Map(stored.map((u) => [u.userName.toLowerCase(), u]));
  const keyRule = config.columns.find((c) => c.column === config.keyColumn)!;
  // People new in this file resolve once their create has been written (in this batch or before)
  // and not rejected.
  const creates = new Map<string, Write>();
  const createdId = (employeeNumber: string) => {
    const w = creates.get(employeeNumber.toLowerCase());
    return w && (w.status === 'inflight' || w.status === 'done') ? w.id : undefined;
  };
  const idOf = (employeeNumber: string) => byEmployee.get(employeeNumber.toLowerCase())?.id ?? createdId(employeeNumber);

  const report: ImportReport = { rows: records.length, created: 0, updated: 0, unchanged: 0, rejected: [], leavers: 0, dryRun: options.dryRun === true };
  const seenEmployees = new Map<string, number>();
  const seenUserNames = new Map<string, number>();
  const writes: Write[] = [];
  const pendingManagers: Write[] = [];

  records.forEach((record, index) => {
    const row = index + 2; // the header is row 1
    let employeeNumber: string | undefined;
    try {
      employeeNumber = cleanValue({ ...keyRule, required: true }, record[config.keyColumn]);
      const key = employeeNumber!.toLowerCase();
      const first = seenEmployees.get(key);
      seenEmployees.set(key, first ?? row);
      if (first !== undefined) throw new RowRejected(`${config.keyColumn} ${employeeNumber} appears again (first on row ${first})`);
      const existing = byEmployee.get(key);
      const cleaned = cleanRow(config, record);
      const built = rowToUser(config, record, existing?.resource, idOf, cleaned);
      const userKey = built.userName.toLowerCase();
      const owner = byUserName.get(userKey);
      if (owner && owner.id !== existing?.id) throw new RowRejected(`userName ${built.userName} belongs to another user${owner.employeeNumber ? ` (${config.keyColumn} ${owner.employeeNumber})` : ''}`);
      const firstUser = seenUserNames.get(userKey);
      if (firstUser !== undefined) throw new RowRejected(`userName ${built.userName} is also on row ${firstUser}`);
      seenUserNames.set(userKey, row);
      if (existing && isUnchanged(built.body, existing.resource)) {
        report.unchanged++;
      } else {
        // New users are validated here, so an invalid row is rejected without failing its batch.
        const write: Write = {
          kind: existing ? 'update' : 'create',
          row,
          employeeNumber: employeeNumber!,
          body: built.body,
          ...(existing ? { id: existing.id } : { id: randomUUID(), resource: validateResourceBody('User', built.body, FAST).resource }),
          ...(built.pendingManager ? { managerNumber: built.pendingManager.employeeNumber, managerTarget: built.pendingManager.target } : {}),
        };
        writes.push(write);
        if (!existing) creates.set(key, write);
      }
      if (built.pendingManager && existing) pendingManagers.push({ kind: 'update', row, employeeNumber: employeeNumber!, body: {} });
    } catch (error) {
      report.rejected.push({ row, ...(employeeNumber ? { employeeNumber } : {}), reason: reasonOf(error) });
    }
  });

  // Leavers (--full): active people with an employee number who are not in the file at all.
  const leavers = options.full ? stored.filter((u) => u.employeeNumber && !seenEmployees.has(u.employeeNumber.toLowerCase()) && u.resource.active !== false) : [];
  const limit = options.maxLeavers ?? Math.floor(stored.length * 0.1);
  if (leavers.length > limit && !options.force && !options.dryRun) {
    throw new ImportGuardError(
      `Refusing the full import: ${leavers.length} of ${stored.length} users are missing from the file and would be deactivated, more than the limit of ${limit}. ` +
        'Check the file is complete (run with --dry-run to see the counts), then use a higher --max-leavers or --force.',
    );
  }
  for (const leaver of leavers) writes.push({ kind: 'update', row: 0, employeeNumber: leaver.employeeNumber!, id: leaver.id, body: withSchemas({ ...leaver.resource, active: false }) });
  report.leavers = leavers.length;

  const progress = (done: number) =>
    options.onProgress?.({ done, total: writes.length, rows: report.rows, created: report.created, updated: report.updated, unchanged: report.unchanged, rejected: report.rejected.length, leavers: report.leavers });
  if (options.dryRun) {
    for (const w of writes) {
      if (w.row === 0) continue;
      if (w.kind === 'create') report.created++;
      else report.updated++;
    }
    await progress(writes.length);
    return report;
  }

  const ordered = managersFirst(writes);
  // The total is known now: a progress bar can show it before the first batch is written.
  await progress(0);
  await writeInBatches(writePath, ordered, options, report, progress, idOf);
  // Managers that could still not be resolved when their report was written (created later).
  for (const w of ordered) if (w.status === 'done' && w.managerUnresolved) pendingManagers.push({ kind: 'update', row: w.row, employeeNumber: w.employeeNumber, body: {} });
  if (pendingManagers.length) await resolveManagers(writePath, config, records, pendingManagers, idOf, options, report);
  report.rejected.sort((a, b) => a.row - b.row);
  return report;
}

/** New people ordered so that a manager is created before the people reporting to them. */
function managersFirst(writes: Write[]): Write[] {
  const created = new Map(writes.filter((w) => w.kind === 'create').map((w) => [w.employeeNumber.toLowerCase(), w]));
  const depth = new Map<Write, number>();
  const depthOf = (w: Write, seen: Set<Write>): number => {
    const known = depth.get(w);
    if (known !== undefined) return known;
    const manager = w.managerNumber ? created.get(w.managerNumber.toLowerCase()) : undefined;
    const d = manager && !seen.has(manager) ? 1 + depthOf(manager, seen.add(w)) : 0;
    depth.set(w, d);
    return d;
  };
  const indexed = writes.map((w, i) => ({ w, i, d: w.kind === 'create' ? depthOf(w, new Set()) : 0 }));
  return indexed.sort((a, b) => a.d - b.d || a.i - b.i).map((x) => x.w);
}

/** Writes the batch in order: each run of creates in one statement, each run of updates in one. */
async function writeMany(context: WriteContext, batch: readonly Write[], idOf?: (employeeNumber: string) => string | undefined): Promise<true[]> {
  for (let start = 0; start < batch.length; ) {
    let end = start + 1;
    while (end < batch.length && batch[end]!.kind === batch[start]!.kind) end++;
    const run = batch.slice(start, end);
    if (run[0]!.kind === 'create') {
      const items = run.map((w) => {
        // A manager new in this file resolves once their create is written (earlier, or earlier
        // in this transaction); one rejected or not yet written is resolved after the import.
        const managerId = w.managerNumber && w.managerTarget && idOf ? idOf(w.managerNumber) : undefined;
        w.managerUnresolved = w.managerNumber !== undefined && managerId === undefined;
        w.status = 'inflight'; // later rows of this transaction may name this person as their manager
        return { id: w.id!, resource: managerId ? withReference(w.resource!, w.managerTarget!, managerId) : w.resource! };
      });
      await createValidatedUsers(context, items);
    } else {
      await replaceUsers(context, run.map((w) => ({ id: w.id!, body: w.body })), FAST);
    }
    start = end;
  }
  return batch.map(() => true);
}

async function writeInBatches(
  writePath: WritePath,
  writes: Write[],
  options: ImportOptions,
  report: ImportReport,
  progress: (done: number) => unknown,
  idOf?: (employeeNumber: string) => string | undefined,
): Promise<void> {
  const batchSize = options.batchSize ?? 250;
  for (let i = 0; i < writes.length; i += batchSize) {
    const batch = writes.slice(i, i + batchSize);
    // One transaction for the batch; if it fails, the write path redoes it row by row and only the
    // culprits are rejected. Each outcome is known as soon as its transaction ends, so a person
    // whose create was rejected is not named as anyone's manager afterwards.
    await writePath.runBatch(options.actor, batch, (context, items) => writeMany(context, items, idOf), (w, outcome) => {
      if (w.kind === 'create') w.status = outcome.ok ? 'done' : 'failed';
      if (!outcome.ok) report.rejected.push({ row: w.row, employeeNumber: w.employeeNumber, reason: reasonOf(outcome.error) });
      else if (w.row !== 0 && w.kind === 'create') report.created++;
      else if (w.row !== 0) report.updated++;
    });
    await progress(Math.min(i + batchSize, writes.length));
  }
}

/** Second pass: managers that were created later in the same file. */
async function resolveManagers(
  writePath: WritePath,
  config: ColumnsConfig,
  records: Array<Record<string, string>>,
  pending: Write[],
  idOf: (employeeNumber: string) => string | undefined,
  options: ImportOptions,
  report: ImportReport,
): Promise<void> {
  const ids = pending.map((p) => idOf(p.employeeNumber)).filter((id): id is string => !!id);
  const { rows } = (await writePath.db.raw(`SELECT id, resource FROM users WHERE id = ANY(?::uuid[])`, [ids])) as { rows: Array<{ id: string; resource: Record<string, unknown> }> };
  const resourceById = new Map(rows.map((r) => [r.id, r.resource]));
  const updates: Write[] = [];
  for (const p of pending) {
    const id = idOf(p.employeeNumber);
    const current = id ? resourceById.get(id) : undefined;
    if (!id || !current) continue;
    const built = rowToUser(config, records[p.row - 2]!, current, idOf);
    if (!isDeepStrictEqual(validateResourceBody('User', built.body, FAST).resource, current)) updates.push({ kind: 'update', row: 0, employeeNumber: p.employeeNumber, id, body: built.body });
  }
  await writeInBatches(writePath, updates, options, report, () => undefined);
}
