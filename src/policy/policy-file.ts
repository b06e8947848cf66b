/**
 * Reads and checks a policy file (YAML): roles whose `when` is a SCIM filter over the user, the
 * managed groups each role grants, optional time bounds, and separation-of-duties conflicts.
 *
 * Every problem is reported with the file, the line, the role and the reason, all at once, so a
 * reviewer fixes a broken file in one go; a file with any problem is never used. The version is a
 * hash of the file's meaning (not its comments or layout), so the journal can name the exact rules
 * that made each decision.
 */
import { createHash } from 'node:crypto';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { invalidFilter } from '../scim/errors.js';
import type { FilterNode } from '../scim/filter/ast.js';
import { parseFilter } from '../scim/filter/parse.js';
import { filterToSql } from '../scim/filter/sql.js';
import { resolveAttribute, type AttributeInfo } from '../scim/schema/catalog.js';
import { attributeLabel, coreKey } from '../scim/filter/match.js';
import { OperatorError } from '../lib/operator-error.js';
import { catalogEntrySchema, checkCatalog, type CatalogEntry } from './catalog.js';

export type ConflictMode = 'keep-first' | 'report';

export interface Role {
  name: string;
  description?: string;
  /** The filter as written, and parsed. */
  when: string;
  filter: FilterNode;
  /** Group display names, as written in the file. */
  groups: string[];
  /** Date attributes bounding the role in time: in effect from `from`, until (not including) `until`. */
  from?: AttributeInfo;
  until?: AttributeInfo;
  /** userName of the person who certifies this rule in access reviews (src/governance/). */
  owner?: string;
}

export interface Policy {
  /** Hash of the policy's meaning, e.g. "9f2c51a0b7d4". */
  version: string;
  /** File name shown in messages and errors. */
  sourceName: string;
  sourceText: string;
  roles: Role[];
  /** Conflicting role pairs, in file order (a list of three conflicts pairwise). */
  conflicts: Array<readonly [string, string]>;
  onConflict: ConflictMode;
  /** Every managed group, keyed by lower-cased display name, with the spelling used first. */
  groups: Map<string, string>;
  /** What people may request, and who approves it (src/policy/catalog.ts). */
  catalog: CatalogEntry[];
}

export class PolicyError extends OperatorError {
  override name = 'PolicyError';
  constructor(
    readonly sourceName: string,
    readonly problems: string[],
  ) {
    super(`${sourceName} is not a valid policy:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const roleSchema = z
  .object({
    name: z.string().regex(ROLE_NAME, 'must be 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit'),
    description: z.string().optional(),
    when: z.string().trim().min(1, 'must be a SCIM filter such as \'title co "Analyst"\''),
    groups: z.array(z.string().trim().min(1, 'group names must not be empty').max(256)).min(1, 'must name at least one group'),
    from: z.string().trim().min(1).optional(),
    until: z.string().trim().min(1).optional(),
    owner: z.string().trim().min(1, 'must be the userName of the person who certifies this rule').max(256).optional(),
  })
  .strict();

const policySchema = z
  .object({
    version: z.literal(1, { message: 'must be 1 (the only policy file format so far)' }),
    description: z.string().optional(),
    onConflict: z.enum(['keep-first', 'report']).default('keep-first'),
    conflicts: z.array(z.array(z.string()).min(2, 'a conflict names at least two roles')).default([]),
    roles: z.array(roleSchema),
    catalog: z.array(catalogEntrySchema).default([]),
  })
  .strict();

type PolicyInput = z.infer<typeof policySchema>;

/** Rules must not depend on what they produce (groups) or on server bookkeeping (id, meta). */
const FORBIDDEN_IN_RULES = /^(groups|meta|id)(\.|$)/;

function pathsOf(node: FilterNode, out: string[] = []): string[] {
  switch (node.kind) {
    case 'and':
    case 'or':
      pathsOf(node.left, out);
      pathsOf(node.right, out);
      break;
    case 'not':
      pathsOf(node.operand, out);
      break;
    case 'valuePath':
    case 'compare':
    case 'present':
      out.push(node.path);
      break;
  }
  return out;
}

/** Top-level attribute paths a filter reads, for reasons and explanations. */
export function filterPaths(node: FilterNode): string[] {
  return [...new Set(pathsOf(node))];
}

function checkFilter(when: string): FilterNode {
  const filter = parseFilter(when);
  // filterToSql resolves every path against the User schema and checks every comparison, so a
  // filter that passes here means the same thing in SQL (plan) and in memory (each change).
  filterToSql(filter, 'User', 'u');
  for (const path of filterPaths(filter)) {
    const info = resolveAttribute('User', path);
    const key = info ? coreKey(info) : undefined;
    if (key && FORBIDDEN_IN_RULES.test(key)) {
      throw invalidFilter(`${attributeLabel(info!)} cannot be used in a rule (rules read HR attributes, not groups or server metadata)`);
    }
  }
  return filter;
}

function checkDateAttribute(path: string): AttributeInfo {
  const info = resolveAttribute('User', path);
  if (!info) throw new Error(`unknown attribute "${path}"; name a dateTime attribute such as urn:ietf:params:scim:schemas:extension:roster:2.0:User:endDate`);
  if (info.type !== 'dateTime' || info.multiValued || (info.parent?.multiValued ?? false)) {
    throw new Error(`${attributeLabel(info)} is not a single dateTime attribute`);
  }
  return info;
}

/** Canonical JSON (sorted keys) of what the policy means, for the version hash. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function policyVersion(input: PolicyInput): string {
  // A policy without a catalog hashes as it did before catalogs existed, so its version stays.
  const meaning = input.catalog.length ? input : { ...input, catalog: undefined };
  return createHash('sha256').update(canonical(meaning)).digest('hex').slice(0, 12);
}

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The line of the deepest node on `path` that exists. */
  line(path: ReadonlyArray<string | number>): number | undefined {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, depth), true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) return this.lines.linePos(range[0]).line;
    }
    return undefined;
  }
}

/** The roles of a file whose shape is wrong elsewhere that are right in themselves, with their index in the file. */
function wellShapedRoles(raw: unknown): Array<{ role: z.infer<typeof roleSchema>; index: number }> {
  const list = raw && typeof raw === 'object' ? (raw as { roles?: unknown }).roles : undefined;
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, index) => {
    const role = roleSchema.safeParse(item);
    return role.success ? [{ role: role.data, index }] : [];
  });
}

/** Parses and checks policy text. Throws PolicyError listing every problem. */
export function parsePolicy(text: string, sourceName: string): Policy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      sourceName,
      doc.errors.map((e) => `${sourceName}:${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`),
    );
  }
  const where = new Locator(doc, lines);
  const at = (path: ReadonlyArray<string | number>) => `${sourceName}:${where.line(path) ?? 1}`;
  const content = (doc.toJS() ?? {}) as unknown;
  const parsed = policySchema.safeParse(content);
  // A shape problem does not hide the others: the roles whose own shape is right are still
  // checked (names, filters, dates), so one run lists everything to fix.
  const problems: string[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
        const listed = (path[0] === 'roles' || path[0] === 'catalog') && typeof path[1] === 'number';
        const roleIndex = listed ? (path[1] as number) : undefined;
        const roleName = roleIndex !== undefined ? (doc.getIn([path[0]!, roleIndex, 'name']) as unknown) : undefined;
        const kind = path[0] === 'catalog' ? 'catalog entry' : 'role';
        const role = roleIndex !== undefined ? `${kind} ${typeof roleName === 'string' ? `"${roleName}"` : `#${roleIndex + 1}`}: ` : '';
        const field = path.slice(roleIndex !== undefined ? 2 : 0).join('.');
        return `${at(path)}: ${role}${field ? `${field}: ` : ''}${issue.message}`;
      });
  const rawRoles = parsed.success ? parsed.data.roles.map((role, index) => ({ role, index })) : wellShapedRoles(content);
  const roles: Role[] = [];
  const names = new Set<string>();
  const groups = new Map<string, string>();
  rawRoles.forEach(({ role: raw, index }) => {
    const label = `role "${raw.name}"`;
    if (names.has(raw.name)) problems.push(`${at(['roles', index, 'name'])}: ${label}: the name is used by an earlier role`);
    names.add(raw.name);
    let filter: FilterNode | undefined;
    try {
      filter = checkFilter(raw.when);
    } catch (error) {
      problems.push(`${at(['roles', index, 'when'])}: ${label}: when: ${(error as Error).message}`);
    }
    const bound = (key: 'from' | 'until'): AttributeInfo | undefined => {
      const path = raw[key];
      if (path === undefined) return undefined;
      try {
        return checkDateAttribute(path);
      } catch (error) {
        problems.push(`${at(['roles', index, key])}: ${label}: ${key}: ${(error as Error).message}`);
        return undefined;
      }
    };
    const from = bound('from');
    const until = bound('until');
    for (const group of raw.groups) if (!groups.has(group.toLowerCase())) groups.set(group.toLowerCase(), group);
    if (filter) {
      roles.push({
        name: raw.name,
        ...(raw.description !== undefined ? { description: raw.description } : {}),
        when: raw.when,
        filter,
        groups: [...new Map(raw.groups.map((g) => [g.toLowerCase(), g])).values()],
        ...(from ? { from } : {}),
        ...(until ? { until } : {}),
        ...(raw.owner !== undefined ? { owner: raw.owner } : {}),
      });
    }
  });
  if (!parsed.success) throw new PolicyError(sourceName, problems);
  const input = parsed.data;
  const conflicts: Array<readonly [string, string]> = [];
  input.conflicts.forEach((set, index) => {
    for (const name of set) {
      if (!names.has(name)) problems.push(`${at(['conflicts', index])}: conflict #${index + 1}: no role is named "${name}"`);
    }
    for (let i = 0; i < set.length; i++) {
      for (let j = i + 1; j < set.length; j++) {
        const [a, b] = [set[i]!, set[j]!];
        // A pair listed twice (in either order, or within two sets) is one conflict, counted once.
        if (a !== b && !conflicts.some(([x, y]) => (x === a && y === b) || (x === b && y === a))) conflicts.push([a, b]);
      }
    }
  });
  const catalog = checkCatalog(input.catalog, { roles: new Map(roles.map((r) => [r.name, r])), groups, conflicts, checkFilter });
  for (const [path, message] of catalog.problems) problems.push(`${at(path)}: ${message}`);
  if (problems.length > 0) throw new PolicyError(sourceName, problems);
  return { version: policyVersion(input), sourceName, sourceText: text, roles, conflicts, onConflict: input.onConflict, groups, catalog: catalog.entries };
}

/** Which roles grant a group (lower-cased name). */
export function rolesGranting(policy: Policy, groupName: string): Role[] {
  const key = groupName.toLowerCase();
  return policy.roles.filter((role) => role.groups.some((g) => g.toLowerCase() === key));
}
