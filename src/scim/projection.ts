/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5 and §3.9). Paths are resolved against the
 * schema; `id` and `schemas` (returned "always") are never removed. The same parsed selection tells
 * the list and read paths whether `members`/`groups` must be read at all.
 */
import { canonicalExtensionUrn, resolveAttribute, splitAttributePath } from './schema/catalog.js';
import type { ResourceTypeName } from './schema/urns.js';
import { isPlainObject } from './validate.js';

interface SelectedPath {
  /** Storage key of the top-level attribute: attribute name, or extension URN. */
  top: string;
  /** Second level: attribute inside an extension, or sub-attribute of a core attribute. */
  second?: string;
  /** Third level: sub-attribute of an extension attribute. */
  third?: string;
}

export interface Selection {
  attributes?: SelectedPath[];
  excluded: SelectedPath[];
}

const ALWAYS = new Set(['id', 'schemas']);

function parsePaths(type: ResourceTypeName, list: string | string[] | undefined): SelectedPath[] | undefined {
  if (list === undefined) return undefined;
  const items = (Array.isArray(list) ? list : list.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const paths: SelectedPath[] = [];
  for (const item of items) {
    const wholeExtension = canonicalExtensionUrn(type, item);
    if (wholeExtension) {
      paths.push({ top: wholeExtension });
      continue;
    }
    const attribute = resolveAttribute(type, item);
    if (!attribute) continue; // unknown names select nothing, as for a schema the client does not know
    const { urn } = splitAttributePath(type, item);
    const chain: string[] = [];
    for (let a: typeof attribute | undefined = attribute; a; a = a.parent) chain.unshift(a.name);
    paths.push(urn ? { top: urn, second: chain[0]!, ...(chain[1] ? { third: chain[1] } : {}) } : { top: chain[0]!, ...(chain[1] ? { second: chain[1] } : {}) });
  }
  return paths;
}

export function parseSelection(type: ResourceTypeName, attributes?: string | string[], excluded?: string | string[]): Selection {
  const selected = parsePaths(type, attributes);
  return { ...(selected && selected.length > 0 ? { attributes: selected } : {}), excluded: parsePaths(type, excluded) ?? [] };
}

/** Whether an attribute kept outside the document (members, groups) is needed for the response. */
export function selectionNeeds(selection: Selection, top: string): boolean {
  if (selection.excluded.some((p) => p.top === top && !p.second)) return false;
  return !selection.attributes || selection.attributes.some((p) => p.top === top);
}

/** Attributes kept outside the stored document: leaving them out never reshapes the document. */
const OUTSIDE_DOCUMENT = new Set(['members', 'groups', ...ALWAYS]);

/**
 * Whether the response carries the stored document whole (no `attributes`; exclusions, if any,
 * only of members/groups, or of id/schemas, which are always returned): then it can be sent as
 * the document text PostgreSQL produced, without parsing it.
 */
export function keepsWholeDocument(selection: Selection): boolean {
  return !selection.attributes && selection.excluded.every((p) => !p.second && OUTSIDE_DOCUMENT.has(p.top));
}

function pick(value: unknown, sub: string): unknown {
  if (Array.isArray(value)) return value.map((element) => (isPlainObject(element) ? pick(element, sub) : element));
  if (!isPlainObject(value)) return undefined;
  return sub in value ? { [sub]: value[sub] } : {};
}

function omit(value: unknown, sub: string): unknown {
  if (Array.isArray(value)) return value.map((element) => omit(element, sub));
  if (!isPlainObject(value)) return value;
  const { [sub]: _removed, ...rest } = value;
  return rest;
}

export function applySelection(resource: Record<string, unknown>, selection: Selection): Record<string, unknown> {
  let result: Record<string, unknown> = resource;
  if (selection.attributes) {
    result = { schemas: resource.schemas, id: resource.id };
    for (const path of selection.attributes) {
      const value = resource[path.top];
      if (value === undefined) continue;
      if (!path.second) {
        result[path.top] = value;
        continue;
      }
      const existing = result[path.top];
      const picked = path.third ? { [path.second]: pick((value as Record<string, unknown>)[path.second], path.third) } : pick(value, path.second);
      result[path.top] = mergeSelected(existing, picked);
    }
  }
  for (const path of selection.excluded) {
    if (ALWAYS.has(path.top) || !(path.top in result)) continue;
    if (!path.second) {
      const { [path.top]: _removed, ...rest } = result;
      result = rest;
    } else if (path.third) {
      const ext = result[path.top] as Record<string, unknown>;
      result = { ...result, [path.top]: { ...ext, [path.second]: omit(ext[path.second], path.third) } };
    } else {
      result = { ...result, [path.top]: omit(result[path.top], path.second) };
    }
  }
  return result;
}

function mergeSelected(existing: unknown, picked: unknown): unknown {
  if (existing === undefined) return picked;
  if (Array.isArray(existing) && Array.isArray(picked)) return existing.map((e, i) => ({ ...(e as object), ...(picked[i] as object) }));
  if (isPlainObject(existing) && isPlainObject(picked)) return { ...existing, ...picked };
  return picked;
}
