/**
 * Applies parsed PATCH operations (RFC 7644 §3.5.2) to a stored resource document, in memory.
 *
 * `current` is the stored `resource` JSONB: wire-shaped, canonical attribute names, extension
 * attributes under their URN key, and no id/meta/schemas/password/groups/members. The result is a
 * new document; `current` is never mutated. The PATCH is atomic: the first failing operation throws
 * a ScimError and nothing is returned, so the caller writes all of it or none of it.
 *
 * Group membership is never materialised here (a group may have many thousands of members, kept in
 * `group_members`): every `members` operation becomes a MembershipDelta for the caller to apply.
 *
 * Client quirks accepted, each from the vendor's own documentation:
 *  - Entra ID without `aadOptscim062020` ("Known issues and resolutions with SCIM 2.0 protocol
 *    compliance"): string booleans ("False"), capitalised op names (handled in operations.ts),
 *    member removal as `{"op":"Remove","path":"members","value":[{"value":"<id>"}]}`.
 *  - Entra ID with the flag: path-less replace whose value object has dotted and URN-qualified keys
 *    (`name.givenName`, `urn:…:enterprise:2.0:User:employeeNumber`); filtered keys are accepted too.
 *  - Entra ID: `Add` to `emails[type eq "work"].value` (phoneNumbers, addresses …) when no element
 *    matches creates the element `{type: "work", value}` (reported as RFC 7644 erratum 8097).
 *  - Entra ID: enterprise `manager` sent as a plain string id (apache/directory-scimple#1242,
 *    Captain-P-Goldfish/SCIM-SDK#686); stored as `{value: id}`.
 *  - Okta ("SCIM 2.0 protocol reference", update a group name): path-less replace carrying the
 *    group's own `id` next to `displayName`; an `id` equal to the resource's is ignored.
 */
import { invalidFilter, invalidPath, invalidValue, mutability, noTarget, ScimError } from '../errors.js';
import type { FilterNode } from '../filter/ast.js';
import { attributeLabel, matchesFilter, parseDateTime } from '../filter/match.js';
import {
  canonicalExtensionUrn,
  coreAttributes,
  extensionAttributes,
  splitAttributePath,
  type AttributeInfo,
} from '../schema/catalog.js';
import type { ResourceTypeName } from '../schema/urns.js';
import { coerceBooleanStrings } from './boolean-strings.js';
import { parsePath, type PatchOperation, type PatchPath } from './operations.js';

export interface MemberRef {
  value: string;
  type?: 'User' | 'Group';
}

/** Membership changes for the caller to apply to `group_members`: `removeAll` first, then `remove` and `add` (disjoint). */
export interface MembershipDelta {
  add: MemberRef[];
  remove: string[];
  removeAll: boolean;
}

export interface PatchResult {
  resource: Record<string, unknown>;
  membership: MembershipDelta;
  /** Whether `resource` differs from `current` (deep comparison; membership changes not included). */
  changed: boolean;
}

export interface ApplyPatchOptions {
  /** The resource's id: an `id` in a path-less value object must equal it (Okta sends it on group rename). */
  id?: string;
}

type OpName = PatchOperation['op'];
/** Where a path came from: the operation's `path` (errors are invalidPath) or a key of a value object (invalidValue). */
type Source = 'path' | 'value';

/** What a path designates, resolved against the catalog. */
type Target =
  | { kind: 'extension'; urn: string }
  | { kind: 'attribute'; info: AttributeInfo }
  /** A sub-attribute; of every element when `parent` is multi-valued (no filter). */
  | { kind: 'sub'; parent: AttributeInfo; info: AttributeInfo }
  | { kind: 'filtered'; info: AttributeInfo; filter: FilterNode; sub?: AttributeInfo };

type Json = Record<string, unknown>;

interface Context {
  type: ResourceTypeName;
  doc: Json;
  membership: Membership;
  options: ApplyPatchOptions;
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** JSON equality: object key order is irrelevant, array order is not. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
}

// ---------------------------------------------------------------------------------------------
// Group membership: operations become a delta, never a materialised member list

/**
 * Accumulates membership operations in order. Adds and removes stay disjoint (a later operation on
 * the same id wins) and a whole-list removal or replace discards what came before, so applying
 * removeAll, then remove, then add gives the same result as running the operations one by one.
 */
class Membership {
  private readonly adds = new Map<string, MemberRef>(); // by lower-cased id: ids are UUIDs
  private readonly removes = new Map<string, string>();
  private removeAll = false;

  add(ref: MemberRef): void {
    const key = ref.value.toLowerCase();
    this.removes.delete(key);
    this.adds.delete(key);
    this.adds.set(key, ref);
  }

  remove(value: string): void {
    const key = value.toLowerCase();
    this.adds.delete(key);
    if (!this.removeAll) this.removes.set(key, value);
  }

  clear(): void {
    this.adds.clear();
    this.removes.clear();
    this.removeAll = true;
  }

  toDelta(): MembershipDelta {
    return { add: [...this.adds.values()], remove: [...this.removes.values()], removeAll: this.removeAll };
  }
}

const MEMBER_TYPES: Record<string, MemberRef['type']> = { user: 'User', group: 'Group' };
const MEMBER_KEYS = new Set(['value', 'type', 'display', '$ref']);

/** Member references from a `members` value: an array of {value, type?, display?, $ref?} (a single object is accepted). */
function memberRefs(value: unknown, label: string): MemberRef[] {
  if (value === null || value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    if (!isObject(item)) throw invalidValue(`Each value of "${label}" must be an object such as {"value": "<id>"}`);
    let id: unknown;
    let memberType: unknown;
    for (const [key, field] of Object.entries(item)) {
      const lower = key.toLowerCase();
      if (!MEMBER_KEYS.has(lower)) throw invalidValue(`Unknown sub-attribute "${key}" of "members"`);
      if (lower === 'value') id = field;
      if (lower === 'type') memberType = field;
    }
    if (typeof id !== 'string' || id.trim() === '') throw invalidValue(`Each member in "${label}" needs a non-empty string "value" (the member's id)`);
    const ref: MemberRef = { value: id };
    if (memberType !== undefined && memberType !== null) {
      const canonical = typeof memberType === 'string' ? MEMBER_TYPES[memberType.toLowerCase()] : undefined;
      if (!canonical) throw invalidValue(`Member type ${JSON.stringify(memberType)} in "${label}" is not "User" or "Group"`);
      ref.type = canonical;
    }
    return ref;
  });
}

/** The ids of `value eq "<id>"` comparisons joined by `or`; anything else cannot be applied without the member list. */
function memberFilterIds(node: FilterNode, label: string): string[] {
  if (node.kind === 'or') return [...memberFilterIds(node.left, label), ...memberFilterIds(node.right, label)];
  if (node.kind === 'compare' && node.op === 'eq' && node.path.toLowerCase() === 'value' && typeof node.value === 'string') return [node.value];
  throw invalidFilter(`"${label}": members are removed by id, as members[value eq "<id>"] (several joined with or)`);
}

function applyMembers(ctx: Context, op: OpName, target: Target, value: unknown, label: string): void {
  const membership = ctx.membership;
  if (target.kind === 'attribute') {
    if (op === 'add') {
      for (const ref of memberRefs(value, label)) membership.add(ref);
    } else if (op === 'replace') {
      const refs = memberRefs(value, label); // validate before clearing
      membership.clear();
      for (const ref of refs) membership.add(ref);
    } else if (value === undefined) {
      membership.clear();
    } else {
      // Entra ID without aadOptscim062020: {"op":"Remove","path":"members","value":[{"value":"<id>"}]}.
      for (const ref of memberRefs(value, label)) membership.remove(ref.value);
    }
    return;
  }
  if (target.kind === 'filtered' && !target.sub && op === 'remove') {
    for (const id of memberFilterIds(target.filter, label)) membership.remove(id);
    return;
  }
  throw invalidPath(`"${label}": members can be added or replaced through path "members" and removed through "members" or members[value eq "<id>"]`);
}

// ---------------------------------------------------------------------------------------------
// Path resolution and mutability

function unknownAttribute(type: ResourceTypeName, source: Source, name: string, label: string): ScimError {
  const where = label === name ? '' : source === 'path' ? ` in path "${label}"` : ` in "${label}"`;
  const detail = `Unknown attribute "${name}"${where} for ${type} resources`;
  return source === 'path' ? invalidPath(detail) : invalidValue(detail);
}

function resolveTarget(type: ResourceTypeName, path: PatchPath, source: Source, label: string): Target {
  if (!path.filter && !path.subAttribute) {
    const urn = canonicalExtensionUrn(type, path.attribute);
    if (urn) return { kind: 'extension', urn };
  }
  const { urn, names } = splitAttributePath(type, path.attribute);
  const top = urn ? extensionAttributes(type, urn) : coreAttributes(type);
  const first = names.length <= 2 ? top?.get(names[0]!.toLowerCase()) : undefined;
  if (!first) throw unknownAttribute(type, source, path.attribute, label);
  const subName = names[1];
  const sub = subName === undefined ? undefined : first.subAttributes?.get(subName.toLowerCase());
  if (subName !== undefined && !sub) throw unknownAttribute(type, source, `${first.name}.${subName}`, label);

  if (path.filter) {
    if (sub) throw invalidPath(`"${label}": a value filter must follow a top-level attribute`);
    if (!first.multiValued || first.type !== 'complex') {
      throw invalidPath(`"${label}": ${first.name} is not a multi-valued complex attribute, so it takes no value filter`);
    }
    let filteredSub: AttributeInfo | undefined;
    if (path.subAttribute !== undefined) {
      filteredSub = first.subAttributes?.get(path.subAttribute.toLowerCase());
      if (!filteredSub) throw unknownAttribute(type, source, `${first.name}.${path.subAttribute}`, label);
    }
    return { kind: 'filtered', info: first, filter: path.filter, ...(filteredSub ? { sub: filteredSub } : {}) };
  }
  return sub ? { kind: 'sub', parent: first, info: sub } : { kind: 'attribute', info: first };
}

function assertNotReadOnly(info: AttributeInfo): void {
  if (info.mutability === 'readOnly') throw mutability(`Attribute "${attributeLabel(info)}" is readOnly and cannot be modified`);
}

/** RFC 7643 §2.2 immutable: may be set when it has no value; never changed or removed afterwards. */
function assertImmutableAllows(info: AttributeInfo, before: unknown, after: unknown): void {
  if (info.mutability !== 'immutable' || before === undefined || deepEqual(before, after)) return;
  throw mutability(`Attribute "${attributeLabel(info)}" is immutable and already has a value`);
}

// ---------------------------------------------------------------------------------------------
// Value normalisation: check types, map keys to canonical names, null means unassigned

function describeType(info: AttributeInfo): string {
  return info.type === 'complex' ? 'an object of sub-attributes' : `a ${info.type}`;
}

function wrongType(info: AttributeInfo, value: unknown): ScimError {
  return invalidValue(`Attribute "${attributeLabel(info)}" expects ${describeType(info)}, not ${JSON.stringify(value)}`);
}

function normalizeSimple(info: AttributeInfo, value: unknown): unknown {
  switch (info.type) {
    case 'boolean':
      if (typeof value !== 'boolean') throw wrongType(info, value);
      return value;
    case 'integer':
      if (!Number.isInteger(value)) throw wrongType(info, value);
      return value;
    case 'decimal':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrongType(info, value);
      return value;
    case 'dateTime':
      // The filter module's parser, so that every stored dateTime can be filtered and sorted on.
      if (typeof value !== 'string' || !parseDateTime(value)) throw wrongType(info, value);
      return value;
    default:
      if (typeof value !== 'string') throw wrongType(info, value);
      return value;
  }
}

/**
 * Canonical form of one value of `info` (for a multi-valued attribute: one element). Returns
 * undefined for null or an empty object (RFC 7643 §2.5: both mean unassigned).
 */
function normalizeElement(info: AttributeInfo, value: unknown): unknown {
  if (value === null) return undefined;
  if (info.type !== 'complex') return normalizeSimple(info, value);
  // Entra ID sends the enterprise manager as a bare id; a singular complex attribute with a
  // `value` sub-attribute takes a string as that sub-attribute.
  if (typeof value === 'string' && !info.multiValued && info.subAttributes?.has('value')) return { value };
  if (!isObject(value)) throw wrongType(info, value);
  const out: Json = {};
  for (const [key, subValue] of Object.entries(value)) {
    const sub = info.subAttributes?.get(key.toLowerCase());
    if (!sub) throw invalidValue(`Unknown sub-attribute "${key}" of "${attributeLabel(info)}"`);
    if (subValue === null) continue;
    assertNotReadOnly(sub);
    out[sub.name] = normalizeSimple(sub, subValue);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Canonical array for a multi-valued attribute; a single element is accepted as a one-element array. */
function normalizeValues(info: AttributeInfo, value: unknown): unknown[] {
  if (value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  return items
    .map((item, index) => {
      const element = normalizeElement(info, item);
      // An element with no value ({} or {"value": null}) was dropped silently: the client meant something.
      if (element === undefined && isObject(item)) throw invalidValue(`Element ${index} of the value for "${attributeLabel(info)}" is an empty object; give at least its "value"`);
      return element;
    })
    .filter((item) => item !== undefined);
}

// ---------------------------------------------------------------------------------------------
// Document access

function getTop(doc: Json, info: AttributeInfo): unknown {
  if (!info.inExtension) return doc[info.name];
  const extension = doc[info.schema];
  return isObject(extension) ? extension[info.name] : undefined;
}

/** Sets (or, with undefined, deletes) a top-level attribute; an emptied extension object is dropped. */
function setTop(doc: Json, info: AttributeInfo, value: unknown): void {
  if (!info.inExtension) {
    if (value === undefined) delete doc[info.name];
    else doc[info.name] = value;
    return;
  }
  const existing = doc[info.schema];
  const extension: Json = isObject(existing) ? existing : {};
  if (value === undefined) delete extension[info.name];
  else extension[info.name] = value;
  if (Object.keys(extension).length > 0) doc[info.schema] = extension;
  else delete doc[info.schema];
}

function currentElements(doc: Json, info: AttributeInfo): Json[] {
  const value = getTop(doc, info);
  return Array.isArray(value) ? value.filter(isObject).map((element) => ({ ...element })) : [];
}

function setElements(doc: Json, info: AttributeInfo, elements: Json[]): void {
  const kept = elements.filter((element) => Object.keys(element).length > 0);
  setTop(doc, info, kept.length > 0 ? kept : undefined);
}

/**
 * RFC 7644 §3.5.2: setting one value's `primary` to true sets it false on the others. `written` are
 * the elements this operation wrote; two of them claiming primary is a client error.
 */
function enforceSinglePrimary(info: AttributeInfo, elements: Json[], written: Json[]): void {
  const claimed = written.filter((element) => element.primary === true);
  if (claimed.length > 1) throw invalidValue(`Only one value of "${attributeLabel(info)}" may be primary`);
  const winner = claimed[0];
  if (!winner) return;
  for (const element of elements) if (element !== winner && element.primary === true) element.primary = false;
}

// ---------------------------------------------------------------------------------------------
// Operations on each kind of target

function removeWhole(ctx: Context, info: AttributeInfo, label: string): void {
  const before = getTop(ctx.doc, info);
  if (before === undefined) return;
  if (info.required && !info.inExtension) throw invalidValue(`Attribute "${info.name}" is required and cannot be removed ("${label}")`);
  assertImmutableAllows(info, before, undefined);
  setTop(ctx.doc, info, undefined);
}

/** Does `element` carry every sub-attribute of `probe` with the same value? */
function elementMatches(element: Json, probe: Json): boolean {
  return Object.entries(probe).every(([key, value]) => deepEqual(element[key], value));
}

function applyWhole(ctx: Context, op: OpName, info: AttributeInfo, value: unknown, label: string): void {
  assertNotReadOnly(info);
  if (op === 'remove') {
    if (value !== undefined && info.multiValued && info.type === 'complex') {
      // Remove by value (Entra's form for members, accepted for any multi-valued attribute):
      // elements that carry all the given sub-attributes go; no match is a no-op.
      const probes = normalizeValues(info, value) as Json[];
      const before = currentElements(ctx.doc, info);
      const after = before.filter((element) => !probes.some((probe) => elementMatches(element, probe)));
      if (after.length !== before.length) {
        assertImmutableAllows(info, getTop(ctx.doc, info), after);
        setElements(ctx.doc, info, after);
      }
      return;
    }
    removeWhole(ctx, info, label);
    return;
  }

  if (value === null) return removeWhole(ctx, info, label);
  const before = getTop(ctx.doc, info);

  if (info.multiValued) {
    const incoming = normalizeValues(info, value);
    let elements: unknown[];
    let written: unknown[];
    if (op === 'replace') {
      elements = incoming;
      written = incoming;
    } else {
      // RFC 7644 §3.5.2.1: add appends; a value already present is not added twice.
      elements = Array.isArray(before) ? before.map((element) => (isObject(element) ? { ...element } : element)) : [];
      written = incoming.map((element) => {
        const existing = elements.find((candidate) => deepEqual(candidate, element));
        if (existing !== undefined) return existing;
        elements.push(element);
        return element;
      });
    }
    if (info.type === 'complex') enforceSinglePrimary(info, elements as Json[], written as Json[]);
    const next = elements.length > 0 ? elements : undefined;
    if (next === undefined && before === undefined) return;
    assertImmutableAllows(info, before, next);
    setTop(ctx.doc, info, next);
    return;
  }

  if (info.type === 'complex') {
    // RFC 7644 §3.5.2.1/§3.5.2.3: for a singular complex attribute, add and replace both set the
    // given sub-attributes and leave the others unchanged.
    if (typeof value === 'string') {
      // Entra's bare manager id names a different manager: replace the object whole, so a stale
      // `$ref` or `displayName` of the previous manager does not survive.
      const next = normalizeElement(info, value);
      assertImmutableAllows(info, before, next);
      setTop(ctx.doc, info, next);
      return;
    }
    if (!isObject(value)) throw wrongType(info, value);
    const merged: Json = isObject(before) ? { ...before } : {};
    for (const [key, subValue] of Object.entries(value)) {
      const sub = info.subAttributes?.get(key.toLowerCase());
      if (!sub) throw invalidValue(`Unknown sub-attribute "${key}" of "${attributeLabel(info)}"`);
      assertNotReadOnly(sub);
      if (subValue === null) delete merged[sub.name];
      else merged[sub.name] = normalizeSimple(sub, subValue);
    }
    const next = Object.keys(merged).length > 0 ? merged : undefined;
    assertImmutableAllows(info, before, next);
    if (next === undefined && before === undefined) return;
    setTop(ctx.doc, info, next);
    return;
  }

  const next = normalizeSimple(info, value);
  assertImmutableAllows(info, before, next);
  setTop(ctx.doc, info, next);
}

/** `name.givenName`, `urn:…:manager.value`, or (remove only) `emails.display` across all elements. */
function applySub(ctx: Context, op: OpName, parent: AttributeInfo, info: AttributeInfo, value: unknown, label: string): void {
  assertNotReadOnly(parent);
  assertNotReadOnly(info);
  if (parent.multiValued) {
    if (op !== 'remove') {
      throw invalidPath(`"${label}" names a sub-attribute of every ${parent.name} value; select values with a filter, e.g. ${parent.name}[type eq "work"].${info.name}`);
    }
    const elements = currentElements(ctx.doc, parent);
    if (!elements.some((element) => info.name in element)) return;
    for (const element of elements) {
      assertImmutableAllows(info, element[info.name], undefined);
      delete element[info.name];
    }
    setElements(ctx.doc, parent, elements);
    return;
  }
  const before = getTop(ctx.doc, parent);
  const object: Json = isObject(before) ? { ...before } : {};
  const next = op === 'remove' || value === null ? undefined : normalizeSimple(info, value);
  if (next === undefined && !(info.name in object)) return;
  assertImmutableAllows(info, object[info.name], next);
  if (next === undefined) delete object[info.name];
  else object[info.name] = next;
  const after = Object.keys(object).length > 0 ? object : undefined;
  assertImmutableAllows(parent, before, after);
  setTop(ctx.doc, parent, after);
}

/**
 * The sub-attribute values an `and` of `eq` comparisons pins down (`type eq "work"` → {type:
 * "work"}), used to create the element Entra ID's `Add` to a filtered path expects. Undefined when
 * the filter says anything else (or, not, other operators), as no element can be derived from it.
 */
function equalityConditions(info: AttributeInfo, node: FilterNode): Json | undefined {
  if (node.kind === 'and') {
    const left = equalityConditions(info, node.left);
    const right = equalityConditions(info, node.right);
    return left && right ? { ...left, ...right } : undefined;
  }
  if (node.kind !== 'compare' || node.op !== 'eq' || node.value === null) return undefined;
  const sub = info.subAttributes?.get(node.path.toLowerCase());
  if (!sub || sub.mutability === 'readOnly') return undefined;
  return { [sub.name]: node.value };
}

function applyFiltered(ctx: Context, op: OpName, info: AttributeInfo, filter: FilterNode, sub: AttributeInfo | undefined, value: unknown, label: string): void {
  assertNotReadOnly(info);
  if (sub) assertNotReadOnly(sub);
  const matchContext = { type: ctx.type, parent: attributeLabel(info) };
  // Validate the filter against the schema even when there is nothing to match it with.
  matchesFilter(filter, {}, matchContext);
  const before = getTop(ctx.doc, info);
  const elements = currentElements(ctx.doc, info);
  const matched = elements.filter((element) => matchesFilter(filter, element, matchContext));

  if (op === 'remove') {
    // A filter that matches nothing removes nothing: the desired state already holds (a repeated
    // Okta/Entra member or email removal must not fail the whole PATCH).
    if (matched.length === 0) return;
    let next: Json[];
    if (sub) {
      for (const element of matched) delete element[sub.name];
      next = elements;
    } else {
      next = elements.filter((element) => !matched.includes(element));
    }
    assertImmutableAllows(info, before, next.length > 0 ? next : undefined);
    setElements(ctx.doc, info, next);
    return;
  }

  if (matched.length === 0 && op === 'replace') {
    // RFC 7644 §3.5.2.3: replace through a filter that matches no value is noTarget.
    throw noTarget(`No value of "${attributeLabel(info)}" matches the filter in "${label}"`);
  }

  const written: Json[] = [];
  if (matched.length === 0) {
    // Entra ID: `Add` to `emails[type eq "work"].value` with no work email creates one.
    const seed = equalityConditions(info, filter);
    if (!seed) throw noTarget(`No value of "${attributeLabel(info)}" matches the filter in "${label}", and the filter does not describe a new value`);
    const element = { ...(normalizeElement(info, seed) as Json) };
    if (sub) {
      if (value !== null) element[sub.name] = normalizeSimple(sub, value);
    } else {
      Object.assign(element, normalizeElement(info, value) ?? {});
    }
    elements.push(element);
    written.push(element);
  } else if (sub) {
    for (const element of matched) {
      if (value === null) delete element[sub.name];
      else element[sub.name] = normalizeSimple(sub, value);
      written.push(element);
    }
  } else {
    const single = Array.isArray(value) && value.length === 1 ? value[0] : value;
    const replacement = normalizeElement(info, single);
    if (replacement !== undefined && !isObject(replacement)) throw wrongType(info, value);
    for (const element of matched) {
      // RFC 7644 §3.5.2.3: replace swaps each matched value; add (RFC silent) merges into it.
      if (op === 'replace') for (const key of Object.keys(element)) delete element[key];
      Object.assign(element, replacement ?? {});
      written.push(element);
    }
  }
  enforceSinglePrimary(info, elements, written);
  const deduplicated = elements.filter((element, index) => !elements.slice(0, index).some((earlier) => deepEqual(earlier, element)));
  assertImmutableAllows(info, before, deduplicated.length > 0 ? deduplicated : undefined);
  setElements(ctx.doc, info, deduplicated);
}

function applyExtension(ctx: Context, op: OpName, urn: string, value: unknown, label: string): void {
  const existing = ctx.doc[urn];
  if (op === 'remove' || value === null) {
    // Removing the whole extension removes each of its attributes, with their mutability checks.
    if (!isObject(existing)) return;
    for (const key of Object.keys(existing)) applyAtPath(ctx, 'remove', { attribute: `${urn}:${key}` }, undefined, 'value', label);
    delete ctx.doc[urn];
    return;
  }
  if (!isObject(value)) throw invalidValue(`"${label}" expects an object of ${urn} attributes`);
  for (const [key, subValue] of Object.entries(value)) applyKey(ctx, op, `${urn}:${key}`, subValue, `${urn}:${key}`);
}

function applyAtPath(ctx: Context, op: OpName, path: PatchPath, value: unknown, source: Source, label: string): void {
  const target = resolveTarget(ctx.type, path, source, label);
  if (ctx.type === 'Group' && target.kind !== 'extension') {
    const top = target.kind === 'sub' ? target.parent : target.info;
    if (!top.inExtension && top.name === 'members') return applyMembers(ctx, op, target, value, label);
  }
  switch (target.kind) {
    case 'extension':
      return applyExtension(ctx, op, target.urn, value, label);
    case 'attribute':
      return applyWhole(ctx, op, target.info, value, label);
    case 'sub':
      return applySub(ctx, op, target.parent, target.info, value, label);
    case 'filtered':
      return applyFiltered(ctx, op, target.info, target.filter, target.sub, value, label);
  }
}

/** One key of a path-less value object: a name, `name.givenName`, `urn:…:attr`, or a filtered path. */
function applyKey(ctx: Context, op: 'add' | 'replace', key: string, value: unknown, label: string): void {
  let path: PatchPath;
  if (key.includes('[')) {
    try {
      path = parsePath(key);
    } catch (error) {
      throw invalidValue(`Invalid attribute "${key}" in a PATCH value: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else {
    path = { attribute: key };
  }
  const target = resolveTarget(ctx.type, path, 'value', label);
  if (target.kind === 'attribute' && !target.info.inExtension && target.info.name === 'id') {
    // Okta renames a group with {"op":"replace","value":{"id":"<group id>","displayName":…}}.
    if (ctx.options.id === undefined || value === ctx.options.id) return;
    throw mutability(`Attribute "id" is readOnly and cannot be modified`);
  }
  applyAtPath(ctx, op, path, coerceValue(ctx.type, path, value), 'value', label);
}

function coercionPath(path: PatchPath): string {
  return path.subAttribute ? `${path.attribute}.${path.subAttribute}` : path.attribute;
}

function coerceValue(type: ResourceTypeName, path: PatchPath, value: unknown): unknown {
  return value === undefined ? undefined : coerceBooleanStrings(type, value, coercionPath(path));
}

function applyOperation(ctx: Context, operation: PatchOperation): void {
  if (operation.path) {
    const label = operation.rawPath ?? coercionPath(operation.path);
    applyAtPath(ctx, operation.op, operation.path, coerceValue(ctx.type, operation.path, operation.value), 'path', label);
    return;
  }
  // Path-less add/replace (RFC 7644 §3.5.2.1, §3.5.2.3): each key of the value object is an
  // attribute, handled as if it were the operation's path.
  const op = operation.op;
  if (op === 'remove') throw noTarget('A remove operation needs a "path"'); // parsePatchRequest already rejects it
  if (!isObject(operation.value)) throw invalidValue('A PATCH operation without "path" needs an object "value"');
  for (const [key, value] of Object.entries(operation.value)) {
    if (key.toLowerCase() === 'schemas') continue; // echoed resource bodies carry it; not an attribute
    const urn = canonicalExtensionUrn(ctx.type, key);
    if (urn) applyExtension(ctx, op, urn, value, key);
    else applyKey(ctx, op, key, value, key);
  }
}

/**
 * Applies `operations` to a copy of `current`. Throws the first ScimError (detail prefixed with the
 * operation's position); on success returns the new document, the membership delta and whether the
 * document changed.
 */
export function applyPatch(
  type: ResourceTypeName,
  current: Record<string, unknown>,
  operations: PatchOperation[],
  options: ApplyPatchOptions = {},
): PatchResult {
  const ctx: Context = { type, doc: structuredClone(current), membership: new Membership(), options };
  operations.forEach((operation, index) => {
    try {
      applyOperation(ctx, operation);
    } catch (error) {
      if (error instanceof ScimError && operations.length > 1) {
        throw error.prefixed(`Operation ${index + 1} (${operation.op}): `);
      }
      throw error;
    }
  });
  return {
    resource: ctx.doc,
    membership: ctx.membership.toDelta(),
    changed: !deepEqual(current, ctx.doc),
  };
}

