/**
 * The columns file: how an HR export's columns map to SCIM user attributes, and how each value is
 * cleaned (trimmed always; canonical spellings, case, e-mail and date formats where configured).
 * One column must map to the enterprise `employeeNumber`: the key users are upserted by.
 */
import fs from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parsePatchPath } from '../scim/filter/parse.js';
import { resolveAttribute, type AttributeInfo } from '../scim/schema/catalog.js';
import { ENTERPRISE_USER_SCHEMA } from '../scim/schema/urns.js';
import { OperatorError } from '../lib/operator-error.js';

export const EMPLOYEE_NUMBER = `${ENTERPRISE_USER_SCHEMA}:employeeNumber`;

/** Where a cleaned value goes: a plain attribute, or one typed element of a multi-valued one. */
export type Target =
  | { kind: 'attribute'; label: string; info: AttributeInfo }
  | { kind: 'element'; label: string; attribute: string; type: string; sub: string };

export interface ColumnRule {
  column: string;
  targets: Target[];
  required: boolean;
  case?: 'lower' | 'upper' | 'title';
  /** Canonical spellings, matched case- and space-insensitively. */
  canonical?: Map<string, string>;
  format?: 'email' | 'date';
  /** `employeeNumber`: the value is another row's employee number, stored as that user's id. */
  lookup?: 'employeeNumber';
}

export interface ColumnsConfig {
  sourceName: string;
  columns: ColumnRule[];
  keyColumn: string;
  active?: { column: string; values: Map<string, boolean> };
  /** Template such as "{Preferred Name|First Name} {Last Name}". */
  displayName?: string;
}

export class ColumnsError extends OperatorError {
  override name = 'ColumnsError';
}

const columnSchema = z
  .object({
    to: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    required: z.boolean().default(false),
    case: z.enum(['lower', 'upper', 'title']).optional(),
    canonical: z.array(z.string().min(1)).optional(),
    format: z.enum(['email', 'date']).optional(),
    lookup: z.literal('employeeNumber').optional(),
  })
  .strict();

const fileSchema = z
  .object({
    version: z.literal(1, { message: 'must be 1' }),
    columns: z.record(z.string(), columnSchema),
    active: z.object({ column: z.string(), values: z.record(z.string(), z.boolean()) }).strict().optional(),
    displayName: z.string().optional(),
  })
  .strict();

const ELEMENT_PATH = /^[A-Za-z]+\[type eq "[^"]+"\]\.[A-Za-z]+$/;
const normalise = (value: string) => value.trim().replace(/\s+/g, ' ').toLowerCase();

function resolveTarget(path: string, column: string): Target {
  if (ELEMENT_PATH.test(path)) {
    const parsed = parsePatchPath(path);
    const owner = resolveAttribute('User', parsed.attribute);
    const filter = parsed.filter;
    if (!owner?.multiValued || !owner.subAttributes?.has('type') || filter?.kind !== 'compare' || typeof filter.value !== 'string' || !parsed.subAttribute) {
      throw new ColumnsError(`column "${column}": "${path}" must look like emails[type eq "work"].value`);
    }
    return { kind: 'element', label: path, attribute: owner.name, type: filter.value, sub: parsed.subAttribute };
  }
  const info = resolveAttribute('User', path);
  if (!info) throw new ColumnsError(`column "${column}": unknown User attribute "${path}"`);
  if (info.multiValued || info.parent?.multiValued) throw new ColumnsError(`column "${column}": "${path}" is multi-valued; write it as ${info.name}[type eq "work"].value`);
  if (info.type === 'complex') {
    const value = info.subAttributes?.get('value');
    if (!value) throw new ColumnsError(`column "${column}": "${path}" is complex; name one of its sub-attributes`);
    return { kind: 'attribute', label: path, info: value };
  }
  if (info.mutability === 'readOnly') throw new ColumnsError(`column "${column}": "${path}" is read-only`);
  return { kind: 'attribute', label: path, info };
}

export function parseColumns(text: string, sourceName: string): ColumnsConfig {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new ColumnsError(`${sourceName}: ${doc.errors.map((e) => e.message.split('\n')[0]).join('; ')}`);
  const parsed = fileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new ColumnsError(`${sourceName} is not a valid columns file:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  const columns: ColumnRule[] = [];
  try {
    for (const [column, spec] of Object.entries(parsed.data.columns)) {
      const targets = (Array.isArray(spec.to) ? spec.to : [spec.to]).map((path) => resolveTarget(path, column));
      columns.push({
        column,
        targets,
        required: spec.required,
        ...(spec.case ? { case: spec.case } : {}),
        ...(spec.canonical ? { canonical: new Map(spec.canonical.map((c) => [normalise(c), c])) } : {}),
        ...(spec.format ? { format: spec.format } : {}),
        ...(spec.lookup ? { lookup: spec.lookup } : {}),
      });
    }
  } catch (error) {
    throw new ColumnsError(`${sourceName}: ${(error as Error).message}`);
  }
  const key = columns.find((c) => c.targets.some((t) => t.kind === 'attribute' && t.label.toLowerCase() === EMPLOYEE_NUMBER.toLowerCase()));
  if (!key) throw new ColumnsError(`${sourceName}: one column must map to ${EMPLOYEE_NUMBER} (the key users are matched by)`);
  if (!columns.some((c) => c.targets.some((t) => t.kind === 'attribute' && t.info.name === 'userName' && !t.info.inExtension))) {
    throw new ColumnsError(`${sourceName}: one column must map to userName`);
  }
  const active = parsed.data.active;
  return {
    sourceName,
    columns,
    keyColumn: key.column,
    ...(active ? { active: { column: active.column, values: new Map(Object.entries(active.values).map(([k, v]) => [normalise(k), v])) } } : {}),
    ...(parsed.data.displayName ? { displayName: parsed.data.displayName } : {}),
  };
}

/** The columns file `roster import` and the console's import use when none is given and ROSTER_HR_COLUMNS_FILE is unset. */
export const DEFAULT_COLUMNS_FILE = 'examples/columns.yaml';

/** The columns file to use when the person gives none: ROSTER_HR_COLUMNS_FILE (config.hrColumnsFile), else the sample's. */
export const defaultColumnsFile = (configured: string | undefined): string => configured ?? DEFAULT_COLUMNS_FILE;

export async function readColumnsFile(file: string): Promise<ColumnsConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new ColumnsError(`Cannot read the columns file ${file}; pass --columns with the path of a columns YAML, or set ROSTER_HR_COLUMNS_FILE to it (see examples/columns.yaml)`);
  }
  return parseColumns(text, file);
}

export { normalise };
