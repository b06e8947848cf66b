/**
 * The parsed form of a SCIM filter (RFC 7644 §3.4.2.2) and of a PATCH path (§3.5.2). The parser
 * (parse.ts) produces these; sql.ts translates them to SQL and match.ts evaluates them in memory.
 *
 * Paths are kept as written (`name.givenName`, `urn:…:enterprise:2.0:User:department`); they are
 * resolved against the schema catalog only by the consumers, because only they know the resource
 * type.
 */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
export type FilterValue = string | number | boolean | null;

export type FilterNode =
  | { kind: 'compare'; path: string; op: CompareOp; value: FilterValue }
  | { kind: 'present'; path: string }
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; operand: FilterNode }
  /** `emails[type eq "work" and value co "@corp"]`: the inner paths are relative to one element. */
  | { kind: 'valuePath'; path: string; filter: FilterNode };

/**
 * A PATCH operation's `path` (RFC 7644 §3.5.2, `PATH = attrPath / valuePath [subAttr]`):
 *   `name.givenName`               → { attribute: 'name.givenName' }
 *   `urn:…:User:manager`           → { attribute: 'urn:…:User:manager' }
 *   `members[value eq "x"]`        → { attribute: 'members', filter }
 *   `emails[type eq "work"].value` → { attribute: 'emails', filter, subAttribute: 'value' }
 * `attribute` is an attrPath as written (optional URN prefix, at most one `.sub`); `subAttribute`
 * only ever follows a `[filter]`.
 */
export interface PatchPath {
  attribute: string;
  filter?: FilterNode;
  subAttribute?: string;
}

export const COMPARE_OPS: readonly CompareOp[] = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'];
