/**
 * Translates a parsed filter into a parameterised SQL condition over the `users` / `groups` table,
 * and a sortBy path into an ORDER BY expression, for `knex.raw(sql, bindings)`.
 *
 * Safety: every value from the request is a `?` binding. The only identifiers in the SQL are the
 * caller's table alias (checked to be a plain identifier), our own subquery aliases, and JSON keys
 * taken from the schema catalog after the path resolved there, never the path text itself.
 *
 * Semantics are those documented in match.ts (which evaluates the same filters in memory); the
 * helpers shared with it keep the two in step. SQL-specific choices:
 *  - Leaves are emitted bare where that keeps an index usable: `userName eq` becomes exactly
 *    `lower(r.resource->>'userName') = lower(?)`, `externalId eq` exactly
 *    `r.resource->>'externalId' = ?`, `id eq` a uuid comparison on the primary key. A bare leaf on
 *    an absent attribute is NULL, which WHERE treats as false; negation therefore always goes through
 *    `NOT COALESCE((…), false)`, so `not`, `ne` and `eq null` are two-valued and count absent
 *    attributes as not matching the inner expression. The fragment as a whole is TRUE exactly for
 *    matching rows (FALSE or NULL otherwise); to negate it yourself, use NOT COALESCE((sql), false).
 *  - String ordering (`gt`, sort keys) follows the database collation; Roster's databases use
 *    C.UTF-8, i.e. code-point order, which RFC 7644 §3.4.2.3 asks for ("no specific locale") and
 *    match.ts implements.
 *  - `groups` is the user's direct memberships from group_members (`groups.type` is "direct").
 */
import { invalidFilter, invalidValue } from '../errors.js';
import { resolveAttribute, type AttributeInfo } from '../schema/catalog.js';
import type { CompareOp, FilterNode, FilterValue } from './ast.js';
import {
  attributeLabel,
  checkComparison,
  compareValue,
  coreKey,
  effectiveCaseExact,
  impliedValue,
  isNeverReturned,
  parseDateTime,
  resolveFilterAttribute,
  type ResourceType,
} from './match.js';

export interface SqlFragment {
  sql: string;
  bindings: unknown[];
}

// ---------------------------------------------------------------------------------------------
// Fragment building: SQL text and its bindings always travel together, so their order cannot drift.

function raw(sql: string): SqlFragment {
  return { sql, bindings: [] };
}

function param(value: unknown): SqlFragment {
  return { sql: '?', bindings: [value] };
}

function sql(strings: TemplateStringsArray, ...parts: SqlFragment[]): SqlFragment {
  let text = strings[0]!;
  const bindings: unknown[] = [];
  parts.forEach((part, i) => {
    text += part.sql + strings[i + 1]!;
    bindings.push(...part.bindings);
  });
  return { sql: text, bindings };
}

const TRUE = raw('TRUE');
const FALSE = raw('FALSE');

function not(fragment: SqlFragment): SqlFragment {
  return sql`NOT COALESCE((${fragment}), false)`;
}

/** A SQL string literal for a JSON key from the catalog (never from the request). */
function jsonKey(name: string): string {
  return `'${name.replace(/'/g, "''")}'`;
}

function checkAlias(alias: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(alias)) throw new Error(`invalid SQL alias ${JSON.stringify(alias)}`);
}

// ---------------------------------------------------------------------------------------------
// Targets: where an attribute's value lives in SQL.

type Target =
  /** A value inside a jsonb document: `base->'a'->>'b'`. */
  | { kind: 'json'; info: AttributeInfo; base: string; path: readonly string[] }
  /** A column or computed expression. */
  | { kind: 'column'; info: AttributeInfo; expr: string; as: 'uuid' | 'timestamptz' | 'text' }
  /** A value known when translating (meta.resourceType, groups.type). */
  | { kind: 'constant'; info: AttributeInfo; value: string };

function jsonOf(base: string, path: readonly string[]): SqlFragment {
  return raw(path.length === 0 ? base : `${base}->${path.map(jsonKey).join('->')}`);
}

function textOf(base: string, path: readonly string[]): SqlFragment {
  if (path.length === 0) return raw(`(${base} #>> '{}')`);
  const last = path[path.length - 1]!;
  return raw(`${jsonOf(base, path.slice(0, -1)).sql}->>${jsonKey(last)}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ORDER_SQL: Record<string, string> = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' };
// The shapes of timestamp PostgreSQL reads; a stored value of another shape compares as absent
// rather than failing the whole query. No backslashes (they would depend on
// standard_conforming_strings) and no `?` (knex.raw would take it for a placeholder).
const TIMESTAMP_SHAPE =
  "'^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+){0,1}){0,1}){0,1}([Zz]|[+-][0-9]{2}(:{0,1}[0-9]{2}){0,1}){0,1}$'";

function likePattern(op: CompareOp, value: string): string {
  const escaped = value.replace(/[\\%_]/g, '\\$&');
  return op === 'co' ? `%${escaped}%` : op === 'sw' ? `${escaped}%` : `%${escaped}`;
}

function compareText(text: SqlFragment, caseExact: boolean, op: CompareOp, value: string): SqlFragment {
  const fold = (fragment: SqlFragment) => (caseExact ? fragment : sql`lower(${fragment})`);
  if (op === 'co' || op === 'sw' || op === 'ew') return sql`${fold(text)} LIKE ${fold(param(likePattern(op, value)))} ESCAPE E'\\\\'`;
  return sql`${fold(text)} ${raw(ORDER_SQL[op]!)} ${fold(param(value))}`;
}

function asTimestamp(text: SqlFragment): SqlFragment {
  return sql`(CASE WHEN ${text} ~ ${raw(TIMESTAMP_SHAPE)} THEN (${text})::timestamptz END)`;
}

function asNumber(json: SqlFragment, text: SqlFragment): SqlFragment {
  return sql`(CASE WHEN jsonb_typeof(${json}) = 'number' THEN (${text})::numeric END)`;
}

/** A positive comparison (op is not `ne`, value not null, both already checked against the type). */
function compareTarget(target: Target, op: CompareOp, value: Exclude<FilterValue, null>): SqlFragment {
  const info = target.info;
  if (target.kind === 'constant') return compareValue(info, target.value, op, value) ? TRUE : FALSE;
  const operator = raw(ORDER_SQL[op] ?? '');
  if (target.kind === 'column') {
    const expr = raw(target.expr);
    if (target.as === 'timestamptz') return sql`${expr} ${operator} ${param(parseDateTime(value as string)!.iso)}::timestamptz`;
    if (target.as === 'uuid') {
      const id = (value as string).toLowerCase();
      // Compare as uuid so the primary-key / membership indexes apply; a non-UUID matches nothing.
      if (op === 'eq') return UUID.test(id) ? sql`${expr} = ${param(id)}::uuid` : FALSE;
      return compareText(sql`${expr}::text`, true, op, id);
    }
    return compareText(expr, effectiveCaseExact(info), op, value as string);
  }
  const json = jsonOf(target.base, target.path);
  const text = textOf(target.base, target.path);
  switch (info.type) {
    case 'boolean':
      return sql`${json} = ${param(JSON.stringify(value))}::jsonb`;
    case 'integer':
    case 'decimal':
      return sql`${asNumber(json, text)} ${operator} ${param(value)}::numeric`;
    case 'dateTime':
      return sql`${asTimestamp(text)} ${operator} ${param(parseDateTime(value as string)!.iso)}::timestamptz`;
    default:
      return compareText(text, effectiveCaseExact(info), op, value as string);
  }
}

function presentTarget(target: Target): SqlFragment {
  if (target.kind !== 'json') return TRUE; // columns are NOT NULL; constants always have a value
  const json = jsonOf(target.base, target.path);
  return sql`(${json} IS NOT NULL AND ${json} NOT IN ('null'::jsonb, '""'::jsonb, '[]'::jsonb, '{}'::jsonb))`;
}

/**
 * One leaf at one level: `pr`, `eq null` / `ne null` as presence, `ne` as the negated `eq`.
 * `present` and `positive` build the SQL for that level (a plain comparison, or an EXISTS).
 */
function leafAtLevel(
  info: AttributeInfo,
  op: CompareOp | 'pr',
  value: FilterValue,
  present: () => SqlFragment,
  positive: (op: CompareOp, value: Exclude<FilterValue, null>) => SqlFragment,
): SqlFragment {
  if (op === 'pr') return present();
  if (value === null) {
    if (op !== 'eq' && op !== 'ne') throw invalidFilter(`null can only be compared with eq or ne (${attributeLabel(info)} ${op} null)`);
    return op === 'ne' ? present() : not(present());
  }
  checkComparison(info, op, value);
  return op === 'ne' ? not(positive('eq', value)) : positive(op, value);
}

// ---------------------------------------------------------------------------------------------
// Multi-valued attributes: the elements a leaf or value filter ranges over.

interface ElementSource {
  target(sub: AttributeInfo): Target;
  /** EXISTS over the elements, with `condition` on one element. */
  exists(condition: SqlFragment): SqlFragment;
}

class Translator {
  private aliases = 0;

  constructor(
    readonly type: ResourceType,
    readonly alias: string,
  ) {}

  private nextAlias(prefix: string): string {
    this.aliases++;
    return `scim_${prefix}${this.aliases}`;
  }

  /** Where a singular attribute of the resource lives. */
  singularTarget(info: AttributeInfo): Target {
    const a = this.alias;
    switch (coreKey(info)) {
      case 'id':
        return { kind: 'column', info, expr: `${a}.id`, as: 'uuid' };
      case 'meta.created':
        return { kind: 'column', info, expr: `${a}.created_at`, as: 'timestamptz' };
      case 'meta.lastmodified':
        return { kind: 'column', info, expr: `${a}.updated_at`, as: 'timestamptz' };
      case 'meta.version':
        return { kind: 'column', info, expr: `('W/"' || ${a}.version || '"')`, as: 'text' };
      case 'meta.resourcetype':
        return { kind: 'constant', info, value: this.type };
      default:
        return { kind: 'json', info, base: `${a}.resource`, path: info.storagePath };
    }
  }

  elements(owner: AttributeInfo): ElementSource {
    const a = this.alias;
    const key = coreKey(owner);
    if (this.type === 'User' && key === 'groups') {
      // A user's groups are not in its document: they are the group_members rows naming it.
      const gm = this.nextAlias('gm');
      const g = this.nextAlias('g');
      let joinGroup = false;
      return {
        target: (sub) => {
          switch (sub.name.toLowerCase()) {
            case 'value':
              return { kind: 'column', info: sub, expr: `${gm}.group_id`, as: 'uuid' };
            case 'display':
              joinGroup = true;
              return { kind: 'json', info: sub, base: `${g}.resource`, path: ['displayName'] };
            case 'type':
              return { kind: 'constant', info: sub, value: 'direct' };
            default:
              throw invalidFilter(`filtering on ${attributeLabel(sub)} is not supported`);
          }
        },
        exists: (condition) => {
          const join = joinGroup ? raw(` JOIN groups ${g} ON ${g}.id = ${gm}.group_id`) : raw('');
          return sql`EXISTS (SELECT 1 FROM group_members ${raw(gm)}${join} WHERE ${raw(`${gm}.member_id = ${a}.id AND ${gm}.member_type = 'User'`)} AND (${condition}))`;
        },
      };
    }
    if (this.type === 'Group' && key === 'members') {
      const gm = this.nextAlias('gm');
      return {
        target: (sub) => {
          switch (sub.name.toLowerCase()) {
            case 'value':
              return { kind: 'column', info: sub, expr: `${gm}.member_id`, as: 'uuid' };
            case 'type':
              return { kind: 'column', info: sub, expr: `${gm}.member_type`, as: 'text' };
            default:
              throw invalidFilter(`filtering on ${attributeLabel(sub)} is not supported`);
          }
        },
        exists: (condition) => sql`EXISTS (SELECT 1 FROM group_members ${raw(gm)} WHERE ${raw(`${gm}.group_id = ${a}.id`)} AND (${condition}))`,
      };
    }
    const e = this.nextAlias('e');
    const array = jsonOf(`${a}.resource`, owner.storagePath);
    return {
      // Sub-attributes are keys of the element; a multi-valued simple attribute's element is the value.
      target: (sub) => ({ kind: 'json', info: sub, base: `${e}.v`, path: sub === owner ? [] : [sub.name] }),
      exists: (condition) =>
        sql`EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${array}) = 'array' THEN ${array} ELSE '[]'::jsonb END) AS ${raw(e)}(v) WHERE ${condition})`,
    };
  }

  /** `emails pr`: the attribute has at least one value. */
  presentMulti(info: AttributeInfo): SqlFragment {
    const key = coreKey(info);
    if ((this.type === 'User' && key === 'groups') || (this.type === 'Group' && key === 'members')) return this.elements(info).exists(TRUE);
    return presentTarget({ kind: 'json', info, base: `${this.alias}.resource`, path: info.storagePath });
  }

  /** A leaf on a resolved attribute at the resource level. */
  attributeLeaf(attribute: AttributeInfo, op: CompareOp | 'pr', value: FilterValue): SqlFragment {
    let info = attribute;
    if (info.multiValued) {
      if (op === 'pr') return this.presentMulti(info);
      if (info.type !== 'complex') {
        const source = this.elements(info);
        const target = source.target(info);
        return leafAtLevel(info, op, value, () => source.exists(presentTarget(target)), (o, v) => source.exists(compareTarget(target, o, v)));
      }
      info = impliedValue(info); // `emails co "x"` means `emails.value co "x"`
    }
    if (info.parent?.multiValued) {
      const source = this.elements(info.parent);
      const target = source.target(info);
      return leafAtLevel(info, op, value, () => source.exists(presentTarget(target)), (o, v) => source.exists(compareTarget(target, o, v)));
    }
    if (info.type === 'complex') {
      if (op === 'pr') return coreKey(info) === 'meta' ? TRUE : presentTarget(this.singularTarget(info));
      info = impliedValue(info); // `urn:…:manager eq "x"` means `….manager.value eq "x"`
    }
    const target = this.singularTarget(info);
    return leafAtLevel(info, op, value, () => presentTarget(target), (o, v) => compareTarget(target, o, v));
  }

  /**
   * @param within the complex attribute whose value filter we are in, if any
   * @param source its elements, when it is multi-valued (paths then refer to one element)
   */
  translate(node: FilterNode, within?: AttributeInfo, source?: ElementSource): SqlFragment {
    switch (node.kind) {
      case 'and':
        return sql`(${this.translate(node.left, within, source)} AND ${this.translate(node.right, within, source)})`;
      case 'or':
        return sql`(${this.translate(node.left, within, source)} OR ${this.translate(node.right, within, source)})`;
      case 'not':
        return not(this.translate(node.operand, within, source));
      case 'present':
      case 'compare': {
        const op = node.kind === 'present' ? 'pr' : node.op;
        const value = node.kind === 'present' ? null : node.value;
        const info = resolveFilterAttribute(this.type, node.path, within);
        if (!source) return this.attributeLeaf(info, op, value);
        if (info.type === 'complex' || info.multiValued) throw invalidFilter(`${attributeLabel(info)} cannot be compared inside a value filter`);
        const target = source.target(info);
        return leafAtLevel(info, op, value, () => presentTarget(target), (o, v) => compareTarget(target, o, v));
      }
      case 'valuePath': {
        if (within) throw invalidFilter(`nested value filter on "${node.path}" inside ${attributeLabel(within)}[…]`);
        const owner = resolveFilterAttribute(this.type, node.path);
        if (owner.type !== 'complex' || owner.parent) throw invalidFilter(`"${node.path}[…]" needs a complex attribute such as emails or name`);
        if (!owner.multiValued) return this.translate(node.filter, owner); // name[givenName eq "x"]: plain leaves on name.*
        const elements = this.elements(owner);
        return elements.exists(this.translate(node.filter, owner, elements));
      }
    }
  }
}

/**
 * The SQL condition for `node` over the users (type 'User') or groups table aliased `alias`.
 * Throws ScimError 400 invalidFilter for unknown attributes and comparisons the schema rules out.
 */
export function filterToSql(node: FilterNode, type: ResourceType, alias: string): SqlFragment {
  checkAlias(alias);
  return new Translator(type, alias).translate(node);
}

// ---------------------------------------------------------------------------------------------
// Sorting (RFC 7644 §3.4.2.3).

function sortKey(info: AttributeInfo, json: SqlFragment, text: SqlFragment): SqlFragment {
  switch (info.type) {
    case 'dateTime':
      return asTimestamp(text);
    case 'integer':
    case 'decimal':
      return asNumber(json, text);
    case 'boolean':
      return sql`(CASE WHEN jsonb_typeof(${json}) = 'boolean' THEN (${text})::boolean END)`;
    default:
      return effectiveCaseExact(info) ? text : sql`lower(${text})`;
  }
}

/**
 * An ORDER BY expression for sortBy `path`. Strings that are not caseExact sort lower-cased (so
 * `userName` gives `lower(r.resource->>'userName')`, the unique index's expression); a multi-valued
 * attribute sorts by its primary value, else its first. Resources without a value give NULL: use
 * plain ASC / DESC, whose defaults (NULLS LAST / NULLS FIRST) are what RFC 7644 §3.4.2.3 asks for.
 * Unknown or unsortable paths: 400 invalidValue, the error RFC 7644 §3.12 lists for a query
 * parameter whose value does not fit the schema (§3.4.2.3 names none; invalidPath is for PATCH).
 */
export function sortKeySql(path: string, type: ResourceType, alias: string): SqlFragment {
  checkAlias(alias);
  const found = resolveAttribute(type, path);
  if (!found) throw invalidValue(`sortBy "${path}" is not an attribute of ${type} resources`);
  let info = found;
  const label = attributeLabel(info);
  const key = coreKey(info) ?? '';
  if (isNeverReturned(info) || key === 'meta.location' || /^(groups|members)(\.|$)/.test(key)) {
    throw invalidValue(`sorting by ${label} is not supported`);
  }
  switch (key) {
    case 'id':
      return raw(`${alias}.id`);
    case 'meta.created':
      return raw(`${alias}.created_at`);
    case 'meta.lastmodified':
      return raw(`${alias}.updated_at`);
    case 'meta.version':
      return raw(`${alias}.version`);
    case 'meta.resourcetype':
      return sql`(${param(type)}::text)`;
  }
  const owner = info.multiValued ? info : info.parent?.multiValued ? info.parent : undefined;
  if (info.type === 'complex') {
    const value = info.subAttributes?.get('value');
    if (!value) throw invalidValue(`sortBy ${label} is complex; sort by one of its sub-attributes, e.g. ${label}.${[...info.subAttributes!.values()][0]!.name}`);
    info = value;
  }
  if (!owner) return sortKey(info, jsonOf(`${alias}.resource`, info.storagePath), textOf(`${alias}.resource`, info.storagePath));

  // The primary element's value, else the first element's.
  const array = jsonOf(`${alias}.resource`, owner.storagePath);
  const element = info === owner ? 'scim_s.v' : `scim_s.v->${jsonKey(info.name)}`;
  const primaryFirst = owner.subAttributes?.has('primary') ? `COALESCE(scim_s.v->'primary' = 'true'::jsonb, false) DESC, ` : '';
  const picked = sql`(SELECT ${raw(element)} FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${array}) = 'array' THEN ${array} ELSE '[]'::jsonb END) WITH ORDINALITY AS scim_s(v, n) ORDER BY ${raw(primaryFirst)}scim_s.n LIMIT 1)`;
  return sortKey(info, picked, sql`(${picked} #>> '{}')`);
}
