/**
 * One HR row → the SCIM user it describes: each configured column cleaned (trim; canonical
 * spelling; case; e-mail and date checks) and written to its attributes, over the stored user when
 * there is one, so attributes the import does not manage (set by an IdP) are kept. A row that
 * cannot become a valid user gives a rejection reason instead.
 */
import { parseDateTime } from '../scim/filter/match.js';
import { ENTERPRISE_USER_SCHEMA, ROSTER_HR_SCHEMA, USER_SCHEMA } from '../scim/schema/urns.js';
import { stringProblem } from '../scim/text-rules.js';
import { normalise, type ColumnRule, type ColumnsConfig, type Target } from './columns-file.js';

export class RowRejected extends Error {
  override name = 'RowRejected';
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function titleCase(value: string): string {
  return value.toLowerCase().replace(/(^|[\s-])(\p{L})/gu, (_m, lead: string, letter: string) => lead + letter.toUpperCase());
}

/** `YYYY-MM-DD` (or a full timestamp) → the instant as stored, midnight UTC for a plain date. */
function cleanDate(value: string, column: string): string {
  const plain = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value) ?? /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value);
  const iso = plain ? (plain[0].includes('/') ? `${plain[3]}-${plain[1]!.padStart(2, '0')}-${plain[2]!.padStart(2, '0')}` : plain[0]) : value;
  const parsed = parseDateTime(iso);
  if (!parsed) throw new RowRejected(`${column} "${value}" is not a date (use YYYY-MM-DD)`);
  return new Date(parsed.epochMs).toISOString();
}

export function cleanValue(rule: ColumnRule, raw: string | undefined): string | undefined {
  const value = (raw ?? '').trim().replace(/\s+/g, ' ');
  if (value === '') {
    if (rule.required) throw new RowRejected(`no ${rule.column} (required)`);
    return undefined;
  }
  // The rule SCIM requests obey at the edge (src/scim/text-rules.ts): PostgreSQL cannot store a
  // NUL in text or jsonb, so such a row is rejected with a reason instead of failing its batch.
  const problem = stringProblem(value);
  if (problem) throw new RowRejected(`${rule.column} ${problem}`);
  let cleaned = rule.canonical?.get(normalise(value)) ?? value;
  if (rule.case === 'lower') cleaned = cleaned.toLowerCase();
  else if (rule.case === 'upper') cleaned = cleaned.toUpperCase();
  else if (rule.case === 'title' && !rule.canonical?.has(normalise(value))) cleaned = titleCase(cleaned);
  if (rule.format === 'email' && !EMAIL.test(cleaned)) throw new RowRejected(`${rule.column} "${value}" is not an e-mail address`);
  if (rule.format === 'date') cleaned = cleanDate(cleaned, rule.column);
  return cleaned;
}

function setPath(document: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = document;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

function setTarget(document: Record<string, unknown>, target: Target, value: unknown): void {
  if (target.kind === 'attribute') {
    const path = target.info.storagePath;
    setPath(document, path, target.info.type === 'boolean' && typeof value === 'string' ? value.toLowerCase() === 'true' : value);
    // Leave no empty extension or complex objects behind (`{}` would not round-trip).
    if (value === undefined && path.length > 1) {
      const parent = path.slice(0, -1).reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], document);
      if (parent && typeof parent === 'object' && Object.keys(parent).length === 0) setPath(document, path.slice(0, -1), undefined);
    }
    return;
  }
  const list = Array.isArray(document[target.attribute]) ? [...(document[target.attribute] as Array<Record<string, unknown>>)] : [];
  const index = list.findIndex((e) => typeof e === 'object' && e !== null && String(e.type).toLowerCase() === target.type.toLowerCase());
  if (value === undefined) {
    if (index >= 0) list.splice(index, 1);
  } else if (index >= 0) {
    list[index] = { ...list[index], [target.sub]: value };
  } else {
    list.push({ [target.sub]: value, type: target.type, ...(list.length === 0 ? { primary: true } : {}) });
  }
  if (list.length) document[target.attribute] = list;
  else delete document[target.attribute];
}

function renderTemplate(template: string, row: Record<string, string>): string | undefined {
  const text = template.replace(/\{([^}]+)\}/g, (_m, names: string) => names.split('|').map((n) => (row[n.trim()] ?? '').trim()).find((v) => v !== '') ?? '');
  const cleaned = text.trim().replace(/\s+/g, ' ');
  return cleaned === '' ? undefined : cleaned;
}

export interface BuiltUser {
  employeeNumber: string;
  userName: string;
  body: Record<string, unknown>;
  /** Employee number of the manager whose id could not be resolved yet (set in a second pass). */
  pendingManager?: { employeeNumber: string; target: Target };
}

/** A row's cleaned values: each column's (in `config.columns` order) and the displayName template's. */
export interface CleanedRow {
  values: ReadonlyArray<string | undefined>;
  displayName: string | undefined;
}

/**
 * Cleans every column of `row` (throws the first column's rejection, in column order, as
 * rowToUser does). Separate so the import can build a new person's body twice (checked before
 * writing, then again when written, once managers created meanwhile resolve) but clean once.
 */
export function cleanRow(config: ColumnsConfig, row: Record<string, string>): CleanedRow {
  const values = config.columns.map((rule) => cleanValue(rule, row[rule.column]));
  return { values, displayName: config.displayName ? renderTemplate(config.displayName, row) : undefined };
}

/**
 * Builds the SCIM body for `row` over `existing` (the stored user, if any). `idOf` resolves an
 * employee number to a user id for lookup columns. `cleaned`: cleanRow's result for this row and
 * config, when the caller has it.
 */
export function rowToUser(
  config: ColumnsConfig,
  row: Record<string, string>,
  existing: Record<string, unknown> | undefined,
  idOf: (employeeNumber: string) => string | undefined,
  cleaned: CleanedRow = cleanRow(config, row),
): BuiltUser {
  const document: Record<string, unknown> = structuredClone(existing ?? {});
  delete document.schemas;
  let employeeNumber = '';
  let userName = '';
  let pendingManager: BuiltUser['pendingManager'];
  for (const [index, rule] of config.columns.entries()) {
    const value = cleaned.values[index];
    if (rule.column === config.keyColumn) employeeNumber = value ?? '';
    for (const target of rule.targets) {
      if (rule.lookup === 'employeeNumber' && value !== undefined) {
        const id = idOf(value);
        if (!id) {
          pendingManager = { employeeNumber: value, target };
          continue; // keep what is stored until the referenced person exists
        }
        setTarget(document, target, id);
        continue;
      }
      if (target.kind === 'attribute' && target.info.name === 'userName' && !target.info.inExtension) userName = value ?? '';
      setTarget(document, target, value);
    }
  }
  if (!employeeNumber) throw new RowRejected(`no ${config.keyColumn} (required)`);
  if (!userName) throw new RowRejected('no userName: map a required column to userName');
  if (config.active) {
    const raw = (row[config.active.column] ?? '').trim();
    const active = config.active.values.get(normalise(raw));
    if (active === undefined) throw new RowRejected(`${config.active.column} "${raw}" is not one of ${[...config.active.values.keys()].join(', ')} (see "active" in the columns file)`);
    document.active = active;
  }
  if (config.displayName) {
    const displayName = cleaned.displayName;
    if (displayName) document.displayName = displayName;
    else delete document.displayName;
  }
  return { employeeNumber, userName, body: withSchemas(document), ...(pendingManager ? { pendingManager } : {}) };
}

/** A stored user document as a request body: `schemas` naming the extensions it uses. */
export function withSchemas(document: Record<string, unknown>): Record<string, unknown> {
  const { schemas: _ignored, ...rest } = document;
  const schemas = [USER_SCHEMA, ...(rest[ENTERPRISE_USER_SCHEMA] ? [ENTERPRISE_USER_SCHEMA] : []), ...(rest[ROSTER_HR_SCHEMA] ? [ROSTER_HR_SCHEMA] : [])];
  return { schemas, ...rest };
}

/**
 * `resource` (a validated stored document) with the lookup `target` set to `id`: what building the
 * row again with the manager resolved and validating it would give (test/import-hr.test.ts).
 */
export function withReference(resource: Record<string, unknown>, target: Target, id: string): Record<string, unknown> {
  const copy = structuredClone(resource);
  setTarget(copy, target, id);
  return copy;
}

export { setTarget };
