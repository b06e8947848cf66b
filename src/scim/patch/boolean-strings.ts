/**
 * Turns the strings "True"/"False" (any case) into JSON booleans wherever the schema catalog says
 * the attribute is a boolean.
 *
 * Why: Microsoft Entra ID's provisioning service, unless the tenant URL carries the
 * `aadOptscim062020` flag, sends booleans as strings, e.g. `{"op":"Replace","path":"active",
 * "value":"False"}` ("Known issues and resolutions with SCIM 2.0 protocol compliance of the
 * Microsoft Entra user provisioning service"), and its SCIM validator also POSTs `"active":"True"`
 * (AzureAD/SCIMReferenceCode#21). scimmy rejects these as type errors and declined to coerce them
 * (scimmyjs/scimmy#51 and #86, closed as wontfix), so Roster normalises them itself, for PATCH
 * values and for POST/PUT bodies alike.
 *
 * Only attributes the catalog declares boolean are touched: a string "true" in `displayName` stays
 * a string. Unknown keys are left alone (the caller's validation reports them). The input is never
 * mutated; objects that contain a coerced value are copied.
 */
import { canonicalExtensionUrn, extensionAttributes, resolveAttribute, type AttributeInfo } from '../schema/catalog.js';
import type { ResourceTypeName } from '../schema/urns.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function toBoolean(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  return value;
}

/**
 * Removes a value filter from an attribute path (`emails[type eq "work"].primary` →
 * `emails.primary`) so the catalog can describe it. Quote-aware so a `]` inside a filter literal does
 * not end the bracket. This only skips the bracket; parsing filters is the filter module's job.
 */
export function stripValueFilter(path: string): string {
  const open = path.indexOf('[');
  if (open < 0) return path;
  let inString = false;
  for (let i = open + 1; i < path.length; i++) {
    const ch = path[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === ']') return path.slice(0, open) + path.slice(i + 1);
  }
  return path; // unbalanced: leave it for the path parser to reject
}

/** Coerces a value of an attribute. For multi-valued attributes it accepts the array or one element. */
function coerceAttributeValue(info: AttributeInfo, value: unknown): unknown {
  if (Array.isArray(value)) {
    if (!info.multiValued) return value;
    return mapIfChanged(value, (element) => coerceElement(info, element));
  }
  // A single element of a multi-valued attribute (e.g. the value of `emails[type eq "work"]`).
  return coerceElement(info, value);
}

function coerceElement(info: AttributeInfo, value: unknown): unknown {
  if (info.type === 'boolean') return toBoolean(value);
  if (info.type === 'complex' && isObject(value) && info.subAttributes) {
    return mapObjectIfChanged(value, (key, sub) => {
      const subInfo = info.subAttributes!.get(key.toLowerCase());
      return subInfo ? coerceElement(subInfo, sub) : sub;
    });
  }
  return value;
}

function mapIfChanged(values: unknown[], fn: (value: unknown) => unknown): unknown[] {
  let changed = false;
  const out = values.map((value) => {
    const next = fn(value);
    if (next !== value) changed = true;
    return next;
  });
  return changed ? out : values;
}

function mapObjectIfChanged(object: Json, fn: (key: string, value: unknown) => unknown): Json {
  let changed = false;
  const out: Json = {};
  for (const [key, value] of Object.entries(object)) {
    const next = fn(key, value);
    if (next !== value) changed = true;
    out[key] = next;
  }
  return changed ? out : object;
}

/** Coerces the attributes of an extension object (`{"urn:…:User": {…}}`). */
function coerceExtensionObject(type: ResourceTypeName, urn: string, value: unknown): unknown {
  const attributes = extensionAttributes(type, urn);
  if (!attributes || !isObject(value)) return value;
  return mapObjectIfChanged(value, (key, sub) => {
    const info = attributes.get(key.toLowerCase()) ?? resolveAttribute(type, `${urn}:${stripValueFilter(key)}`);
    return info ? coerceAttributeValue(info, sub) : sub;
  });
}

/** Coerces one key of a resource document or path-less PATCH value object. */
function coerceKey(type: ResourceTypeName, key: string, value: unknown): unknown {
  const urn = canonicalExtensionUrn(type, key);
  if (urn) return coerceExtensionObject(type, urn, value);
  // Plain names, dotted `name.givenName`, URN-qualified `urn:…:User:manager` and Entra's
  // filtered keys `emails[type eq "work"].primary` all resolve through the catalog.
  const info = resolveAttribute(type, stripValueFilter(key));
  return info ? coerceAttributeValue(info, value) : value;
}

/**
 * Returns `document` with boolean strings converted to booleans.
 *
 * Without `attributePath`, `document` is a resource body (POST/PUT) or a path-less PATCH value
 * object: its keys are attribute names, possibly dotted, URN-qualified, or an extension URN holding
 * an object. With `attributePath` (a PATCH `path`, value filter allowed), `document` is the value
 * for that attribute: a scalar, an object of sub-attributes, an array of values or a single element.
 */
export function coerceBooleanStrings(type: ResourceTypeName, document: unknown, attributePath?: string): unknown {
  if (attributePath !== undefined) {
    const urn = canonicalExtensionUrn(type, attributePath);
    if (urn) return coerceExtensionObject(type, urn, document);
    const info = resolveAttribute(type, stripValueFilter(attributePath));
    return info ? coerceAttributeValue(info, document) : document;
  }
  if (!isObject(document)) return document;
  return mapObjectIfChanged(document, (key, value) => coerceKey(type, key, value));
}
