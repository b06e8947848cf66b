/**
 * The rules applied to one user, in memory: which roles hold now, which conflicts arise, and when
 * the answer next changes by itself (a `from` or `until` date arriving).
 *
 * A role holds when its `when` filter matches, the user is not deactivated (`active` false), and
 * `now` lies within its time bounds. All of that is one SCIM filter (`effectiveFilter`), evaluated
 * here with matchesFilter and by `policy plan` with filterToSql, so both give the same answer.
 */
import type { FilterNode } from '../scim/filter/ast.js';
import { attributeLabel, matchesFilter, parseDateTime } from '../scim/filter/match.js';
import { resolveAttribute, type AttributeInfo } from '../scim/schema/catalog.js';
import { filterPaths, type Policy, type Role } from './policy-file.js';

const and = (left: FilterNode, right: FilterNode): FilterNode => ({ kind: 'and', left, right });
const not = (operand: FilterNode): FilterNode => ({ kind: 'not', operand });
const NOT_DEACTIVATED: FilterNode = not({ kind: 'compare', path: 'active', op: 'eq', value: false });

// The last filter built per role: a batch evaluates every user at the same instant, so the nodes
// (and the attribute each leaf resolved to, cached by match.ts per node) are reused.
const ACTIVE_RULE = new WeakMap<Role, FilterNode>();
const lastEffective = new WeakMap<Role, { ms: number; filter: FilterNode }>();

/** The role's rule at instant `now`: its filter, the user not deactivated, and within its dates. */
export function effectiveFilter(role: Role, now: Date): FilterNode {
  const ms = now.getTime();
  const cached = lastEffective.get(role);
  if (cached && cached.ms === ms) return cached.filter;
  const iso = now.toISOString();
  let filter = and(role.filter, NOT_DEACTIVATED);
  if (role.from) filter = and(filter, not({ kind: 'compare', path: attributeLabel(role.from), op: 'gt', value: iso }));
  if (role.until) filter = and(filter, not({ kind: 'compare', path: attributeLabel(role.until), op: 'le', value: iso }));
  lastEffective.set(role, { ms, filter });
  return filter;
}

function valueAt(document: Record<string, unknown>, path: readonly string[]): unknown {
  let current: unknown = document;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The values of the attributes a role reads, as evidence for a grant or a revoke. */
export function attributeEvidence(role: Role, document: Record<string, unknown> | undefined): Record<string, unknown> {
  const evidence: Record<string, unknown> = {};
  const paths = [...filterPaths(role.filter), ...(role.from ? [attributeLabel(role.from)] : []), ...(role.until ? [attributeLabel(role.until)] : []), 'active'];
  for (const path of paths) {
    const info = resolveAttribute('User', path);
    if (!info) continue;
    const owner = info.parent?.multiValued ? info.parent : info;
    evidence[attributeLabel(info)] = document ? (valueAt(document, owner.storagePath) ?? null) : null;
  }
  return evidence;
}

export interface Violation {
  /** "a+b", the key under which the violation is recorded. */
  conflict: string;
  roles: readonly [string, string];
  /** The role not granted (keep-first), or undefined when the policy only reports. */
  dropped?: string;
}

export interface Evaluation {
  /** Roles the user holds after conflicts are resolved, in policy order. */
  roles: string[];
  violations: Violation[];
  /** When a time bound of a matching role next passes; re-evaluate then. */
  nextCheck?: Date;
}

function dateOf(document: Record<string, unknown>, info: AttributeInfo | undefined): number | undefined {
  if (!info) return undefined;
  const raw = valueAt(document, info.storagePath);
  return typeof raw === 'string' ? parseDateTime(raw)?.epochMs : undefined;
}

/**
 * Resolves conflicts for keep-first: the matching roles are taken in priority order (roles already
 * held first, earliest granted first; then the rest in policy order) and each is kept unless it
 * conflicts with a role kept before it. Held roles win, so the result is stable: evaluating again
 * with the kept roles as the held ones keeps the same roles (applying twice changes nothing).
 * plan-sql.ts computes the same greedy order in SQL.
 */
export function resolveConflicts(policy: Policy, matching: ReadonlySet<string>, held: ReadonlyMap<string, Date>): Set<string> {
  const order = new Map(policy.roles.map((r, i) => [r.name, i]));
  const ranked = [...matching].sort((x, y) => {
    const hx = held.get(x);
    const hy = held.get(y);
    if (!!hx !== !!hy) return hx ? -1 : 1;
    if (hx && hy && hx.getTime() !== hy.getTime()) return hx.getTime() - hy.getTime();
    return order.get(x)! - order.get(y)!;
  });
  const conflictsWith = (a: string, b: string) => policy.conflicts.some(([p, q]) => (p === a && q === b) || (p === b && q === a));
  const kept = new Set<string>();
  for (const role of ranked) if (![...kept].some((k) => conflictsWith(role, k))) kept.add(role);
  return kept;
}

/**
 * Evaluates the policy for one user. `document` is the stored user (undefined when deleted);
 * `held` maps the roles the user holds now to when they were granted.
 */
export function evaluatePolicy(policy: Policy, document: Record<string, unknown> | undefined, held: ReadonlyMap<string, Date>, now: Date): Evaluation {
  if (!document) return { roles: [], violations: [] };
  const matching = new Set<string>();
  let next: number | undefined;
  const nowMs = now.getTime();
  for (const role of policy.roles) {
    if (matchesFilter(effectiveFilter(role, now), document, { type: 'User' })) matching.add(role.name);
    if (!role.from && !role.until) continue;
    // A role whose rule matches apart from its dates changes by itself when a date passes.
    if (!matchesFilter(ACTIVE_RULE.get(role) ?? ACTIVE_RULE.set(role, and(role.filter, NOT_DEACTIVATED)).get(role)!, document, { type: 'User' })) continue;
    for (const at of [dateOf(document, role.from), dateOf(document, role.until)]) {
      if (at !== undefined && at > nowMs && (next === undefined || at < next)) next = at;
    }
  }
  const violations: Violation[] = [];
  const kept = policy.onConflict === 'keep-first' && policy.conflicts.length ? resolveConflicts(policy, matching, held) : matching;
  for (const pair of policy.conflicts) {
    if (!matching.has(pair[0]) || !matching.has(pair[1])) continue;
    const loser = pair.find((role) => !kept.has(role));
    violations.push({ conflict: `${pair[0]}+${pair[1]}`, roles: pair, ...(loser ? { dropped: loser } : {}) });
  }
  return {
    roles: policy.roles.map((r) => r.name).filter((name) => kept.has(name)),
    violations,
    ...(next !== undefined ? { nextCheck: new Date(next) } : {}),
  };
}
