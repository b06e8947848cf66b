/**
 * In-memory evaluation of a parsed filter against one plain JSON object in wire format: a whole
 * resource, or one element of a multi-valued attribute (PATCH value filters such as
 * `emails[type eq "work"]`, policy rules on one user).
 *
 * This module is also the reference for the filter *semantics* that sql.ts must reproduce in SQL:
 * attribute resolution, which operator/value combinations are allowed, case rules, dateTime
 * parsing. Both modules share the helpers exported here so that a filter means the same thing
 * whether PostgreSQL or this evaluator runs it (test/filter-match.test.ts checks that they agree).
 *
 * Semantics (RFC 7644 §3.4.2.2, with our choices where the RFC is silent):
 *  - `ne` is `not (eq)` at the level the path is written: `title ne "x"` matches users without a
 *    title; `emails.type ne "work"` matches users with no work email (including users with no
 *    emails); inside `emails[type ne "work"]` it is per element.
 *  - `pr` means present and not null, not "", not [] and not {}.
 *  - `eq null` means "not present" and `ne null` means "present"; other operators reject null.
 *  - A multi-valued attribute matches when any element does; `emails co "x"` compares `emails.value`.
 *  - Strings compare lower-cased unless the attribute is caseExact; ordering compares code points
 *    (sql.ts relies on the database collation for that: use C or C.UTF-8).
 *  - dateTime values compare as instants; a value without an offset is taken as UTC.
 */
import { invalidFilter } from '../errors.js';
import { resolveAttribute, type AttributeInfo, type AttributeType } from '../schema/catalog.js';
import type { CompareOp, FilterNode, FilterValue } from './ast.js';

export type ResourceType = 'User' | 'Group';

export interface MatchContext {
  type: ResourceType;
  /** Multi-valued (or complex) attribute name when `element` is one of its values, e.g. 'emails'. */
  parent?: string;
}

/** The path of an attribute as a client would write it: `emails.value`, `urn:…:User:manager.value`. */
export function attributeLabel(info: AttributeInfo): string {
  const names = info.parent ? `${info.parent.name}.${info.name}` : info.name;
  return info.inExtension ? `${info.schema}:${names}` : names;
}

/** A core attribute path in lower case (`meta.created`), or undefined for extension attributes; used to spot the server-owned attributes. */
export function coreKey(info: AttributeInfo): string | undefined {
  if (info.inExtension) return undefined;
  return (info.parent ? `${info.parent.name}.${info.name}` : info.name).toLowerCase();
}

/** Attributes that exist on the wire but cannot be filtered on: no stored value to compare. */
const UNFILTERABLE = new Set(['meta.location', 'groups.$ref', 'members.$ref', 'members.display']);

/**
 * Attributes never returned (password) must not be searchable either, or a filter would reveal
 * them. The catalog reads scimmy's `returned: false` (scimmy's spelling of "never") as 'request',
 * so password is named here as well.
 */
export function isNeverReturned(info: AttributeInfo): boolean {
  return info.returned === 'never' || coreKey(info) === 'password';
}

/** Identifiers are UUIDs, compared case-insensitively because PostgreSQL's uuid type is. */
const UUID_VALUED = new Set(['id', 'groups.value', 'members.value']);

/** Case rule for comparisons: the catalog's, except where Roster stores a canonical form. */
export function effectiveCaseExact(info: AttributeInfo): boolean {
  const key = coreKey(info);
  if (key === 'meta.version') return true; // an ETag is an opaque, case-sensitive string (RFC 7232)
  if (UUID_VALUED.has(key ?? '')) return false;
  return info.caseExact;
}

/**
 * Resolves a filter path to its catalog entry. Inside a value filter (`within` set) the path is a
 * sub-attribute name of `within`. Throws invalidFilter naming the attribute when it is unknown or
 * cannot be filtered on.
 */
export function resolveFilterAttribute(type: ResourceType, path: string, within?: AttributeInfo): AttributeInfo {
  let info: AttributeInfo | undefined;
  if (within) {
    info = path.includes('.') || path.includes(':') ? undefined : within.subAttributes?.get(path.toLowerCase());
    if (!info) throw invalidFilter(`"${path}" is not a sub-attribute of ${attributeLabel(within)}`);
  } else {
    info = resolveAttribute(type, path);
    if (!info) throw invalidFilter(`unknown attribute "${path}" for ${type} resources`);
  }
  const label = attributeLabel(info);
  if (isNeverReturned(info)) throw invalidFilter(`${label} cannot be used in a filter`);
  if (UNFILTERABLE.has(coreKey(info) ?? '')) throw invalidFilter(`filtering on ${label} is not supported`);
  return info;
}

/** For a comparison on a complex attribute without a sub-attribute (`emails co "x"`), the implied `value` sub-attribute. */
export function impliedValue(info: AttributeInfo): AttributeInfo {
  const value = info.subAttributes?.get('value');
  if (!value) throw invalidFilter(`${attributeLabel(info)} is complex; compare one of its sub-attributes, e.g. ${attributeLabel(info)}.${[...(info.subAttributes?.values() ?? [])][0]?.name ?? 'value'}`);
  return value;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

export interface ParsedDateTime {
  /** Milliseconds since the epoch, with microseconds as the fraction. */
  epochMs: number;
  /** The same instant written so that PostgreSQL's timestamptz reads it independent of its TimeZone setting. */
  iso: string;
}

/** Parses an xsd:dateTime-like string strictly (no day 31 in April); undefined if invalid. */
export function parseDateTime(text: string): ParsedDateTime | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((part) =>
    part === undefined ? undefined : Number(part),
  ) as number[];
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (year! < 1 || month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const digits = zone.replace(':', '');
    const hours = Number(digits.slice(1, 3));
    const minutes = Number(digits.slice(3, 5));
    if (hours > 14 || minutes > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
  }
  const fraction = m[7] ? Math.round(Number(`0.${m[7]}`) * 1e6) / 1e3 : 0; // PostgreSQL keeps microseconds
  const utc = new Date(0);
  utc.setUTCFullYear(year!, month! - 1, day!); // not Date.UTC: it maps years 1-99 to 1901-1999
  utc.setUTCHours(hour, minute, second, 0);
  const epochMs = utc.getTime() - offsetMinutes * 60_000 + fraction;
  const datePart = `${m[1]}-${m[2]}-${m[3]}`;
  const timePart = m[4] === undefined ? '00:00:00' : `${m[4]}:${m[5]}:${m[6] ?? '00'}${m[7] ? `.${m[7]}` : ''}`;
  return { epochMs, iso: `${datePart}T${timePart}${zone && zone.toUpperCase() !== 'Z' ? zone : 'Z'}` };
}

const ORDERING: ReadonlySet<CompareOp> = new Set(['gt', 'ge', 'lt', 'le']);
const SUBSTRING: ReadonlySet<CompareOp> = new Set(['co', 'sw', 'ew']);

function isStringType(type: AttributeType): boolean {
  return type === 'string' || type === 'reference' || type === 'binary';
}

/**
 * Rejects operator/value combinations that RFC 7644 §3.4.2.2 or the attribute's type rule out
 * (`active gt true`, `active eq "yes"`, `meta.created eq "soon"`). Call with a non-null value;
 * `eq null` / `ne null` are presence tests handled by the callers.
 */
export function checkComparison(info: AttributeInfo, op: CompareOp, value: Exclude<FilterValue, null>): void {
  const label = attributeLabel(info);
  const type = info.type;
  if (type === 'complex') throw new Error('complex attributes are compared through a sub-attribute');
  if ((type === 'boolean' || type === 'binary') && ORDERING.has(op)) {
    throw invalidFilter(`"${op}" is not defined for ${type} attribute ${label} (RFC 7644 §3.4.2.2); use eq or ne`);
  }
  if (!isStringType(type) && SUBSTRING.has(op)) {
    throw invalidFilter(`"${op}" compares strings; ${label} is a ${type} attribute`);
  }
  switch (type) {
    case 'boolean':
      if (typeof value !== 'boolean') throw invalidFilter(`${label} is a boolean; compare it with true or false, not ${JSON.stringify(value)}`);
      return;
    case 'integer':
    case 'decimal':
      if (typeof value !== 'number') throw invalidFilter(`${label} is a number; compare it with an unquoted number, not ${JSON.stringify(value)}`);
      return;
    case 'dateTime':
      if (typeof value !== 'string' || !parseDateTime(value)) {
        throw invalidFilter(`${label} is a dateTime; compare it with a quoted timestamp such as "2024-05-01T00:00:00Z", not ${JSON.stringify(value)}`);
      }
      return;
    default:
      if (typeof value !== 'string') throw invalidFilter(`${label} is a string; put the value in double quotes: "${String(value)}"`);
  }
}

/** RFC 7644 "pr": has a value that is not null, "", [] or {}. */
export function isPresent(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** Code-point order, as PostgreSQL's C / C.UTF-8 collations sort (JS `<` compares UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = left[i]!.codePointAt(0)! - right[i]!.codePointAt(0)!;
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

function ordered(difference: number, op: CompareOp): boolean {
  switch (op) {
    case 'eq':
      return difference === 0;
    case 'gt':
      return difference > 0;
    case 'ge':
      return difference >= 0;
    case 'lt':
      return difference < 0;
    case 'le':
      return difference <= 0;
    default:
      throw new Error(`not an ordering operator: ${op}`);
  }
}

/** One stored value against a filter value, with ne and null already rewritten away by the caller. */
export function compareValue(info: AttributeInfo, actual: unknown, op: CompareOp, expected: Exclude<FilterValue, null>): boolean {
  switch (info.type) {
    case 'boolean':
      return typeof actual === 'boolean' && actual === expected;
    case 'integer':
    case 'decimal':
      return typeof actual === 'number' && ordered(actual - (expected as number), op);
    case 'dateTime': {
      const left = typeof actual === 'string' ? parseDateTime(actual) : undefined;
      const right = parseDateTime(expected as string);
      return !!left && !!right && ordered(left.epochMs - right.epochMs, op);
    }
    default: {
      if (typeof actual !== 'string') return false;
      const fold = !effectiveCaseExact(info);
      const a = fold ? actual.toLowerCase() : actual;
      const b = fold ? (expected as string).toLowerCase() : (expected as string);
      if (op === 'co') return a.includes(b);
      if (op === 'sw') return a.startsWith(b);
      if (op === 'ew') return a.endsWith(b);
      return ordered(compareCodePoints(a, b), op);
    }
  }
}

function valueAt(object: unknown, path: readonly string[]): unknown {
  let current = object;
  for (const key of path) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function elementsOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

interface Scope {
  type: ResourceType;
  /** Set when evaluating inside one element of this attribute. */
  within?: AttributeInfo;
}

/** Applies a leaf to the candidate values at one level: `ne` and null become negation and presence there. */
function leaf(info: AttributeInfo, candidates: unknown[], op: CompareOp | 'pr', value: FilterValue): boolean {
  if (op === 'pr') return candidates.some(isPresent);
  if (value === null) {
    if (op !== 'eq' && op !== 'ne') throw invalidFilter(`null can only be compared with eq or ne (${attributeLabel(info)} ${op} null)`);
    return op === 'ne' ? candidates.some(isPresent) : !candidates.some(isPresent);
  }
  checkComparison(info, op, value);
  if (op === 'ne') return !candidates.some((candidate) => compareValue(info, candidate, 'eq', value));
  return candidates.some((candidate) => compareValue(info, candidate, op, value));
}

/**
 * A leaf's resolved attribute, kept with the parsed node: a filter evaluated many times (a policy
 * rule, once per user) resolves each path once. Keyed by the node object, for the scope it was
 * resolved in; the catalog does not change while a node lives. Failures are not cached (they throw).
 */
const resolvedLeaves = new WeakMap<FilterNode, { type: ResourceType; within: AttributeInfo | undefined; info: AttributeInfo }>();

function resolveLeaf(node: FilterNode & { path: string }, scope: Scope): AttributeInfo {
  const cached = resolvedLeaves.get(node);
  if (cached && cached.type === scope.type && cached.within === scope.within) return cached.info;
  const info = resolveFilterAttribute(scope.type, node.path, scope.within);
  resolvedLeaves.set(node, { type: scope.type, within: scope.within, info });
  return info;
}

function evaluateLeaf(node: FilterNode & { path: string }, op: CompareOp | 'pr', value: FilterValue, element: Record<string, unknown>, scope: Scope): boolean {
  let info = resolveLeaf(node, scope);
  // The resource type is not stored per resource; it is the type being searched (as in sql.ts).
  if (coreKey(info) === 'meta.resourcetype') return leaf(info, [scope.type], op, value);
  if (scope.within) {
    if (info.type === 'complex' || info.multiValued) throw invalidFilter(`${attributeLabel(info)} cannot be compared inside a value filter`);
    return leaf(info, [element[info.name]], op, value);
  }
  if (info.multiValued) {
    const stored = valueAt(element, info.storagePath);
    if (op === 'pr') return isPresent(stored);
    if (info.type !== 'complex') return leaf(info, elementsOf(stored), op, value);
    info = impliedValue(info);
  }
  if (info.parent?.multiValued) {
    const items = elementsOf(valueAt(element, info.parent.storagePath));
    return leaf(info, items.map((item) => valueAt(item, [info.name])), op, value);
  }
  if (info.type === 'complex') {
    if (op === 'pr') return isPresent(valueAt(element, info.storagePath));
    info = impliedValue(info);
  }
  return leaf(info, [valueAt(element, info.storagePath)], op, value);
}

function evaluate(node: FilterNode, element: Record<string, unknown>, scope: Scope): boolean {
  switch (node.kind) {
    case 'and':
      return evaluate(node.left, element, scope) && evaluate(node.right, element, scope);
    case 'or':
      return evaluate(node.left, element, scope) || evaluate(node.right, element, scope);
    case 'not':
      return !evaluate(node.operand, element, scope);
    case 'present':
      return evaluateLeaf(node, 'pr', null, element, scope);
    case 'compare':
      return evaluateLeaf(node, node.op, node.value, element, scope);
    case 'valuePath': {
      if (scope.within) throw invalidFilter(`nested value filter on "${node.path}" inside ${attributeLabel(scope.within)}[…]`);
      const owner = resolveLeaf(node, { type: scope.type });
      if (owner.type !== 'complex' || owner.parent) throw invalidFilter(`"${node.path}[…]" needs a complex attribute such as emails or name`);
      const stored = valueAt(element, owner.storagePath);
      const items = owner.multiValued ? elementsOf(stored) : [stored];
      const inner: Scope = { type: scope.type, within: owner };
      // An element that is not an object has no sub-attributes: every leaf on it is "absent", so
      // `emails[not (type eq "work")]` matches it, as in SQL.
      return items.some((item) => evaluate(node.filter, isObject(item) ? item : {}, inner));
    }
  }
}

/**
 * Whether `element` matches `node`. With `context.parent`, `element` is one value of that
 * attribute and the filter's paths are its sub-attributes (`type`, `value`). Throws invalidFilter
 * for paths or comparisons the schema rules out, exactly as filterToSql does.
 */
export function matchesFilter(node: FilterNode, element: Record<string, unknown>, context: MatchContext): boolean {
  let within: AttributeInfo | undefined;
  if (context.parent !== undefined) {
    within = resolveFilterAttribute(context.type, context.parent);
    if (within.type !== 'complex') throw invalidFilter(`${attributeLabel(within)} has no sub-attributes to filter on`);
  }
  return evaluate(node, element, { type: context.type, ...(within ? { within } : {}) });
}
