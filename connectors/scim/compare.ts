/**
 * Drift detection: which of the attributes Roster wants differ from what the target actually
 * holds. Only what Roster sends is compared (targets add meta, id, defaults of their own), and
 * multi-valued attributes compare element by element on the sub-attributes Roster sends, in any
 * order, so a target that adds `display` or reorders emails is not reported as drifted.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Document } from '../profile.js';

const IGNORED = new Set(['schemas']);

function isObject(value: unknown): value is Document {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function covers(actual: unknown, desired: unknown): boolean {
  if (isObject(desired)) {
    if (!isObject(actual)) return false;
    return Object.entries(desired).every(([key, value]) => value === undefined || covers(actual[key], value));
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return false;
    const unused = [...actual];
    return desired.every((element) => {
      const index = unused.findIndex((candidate) => covers(candidate, element));
      if (index < 0) return false;
      unused.splice(index, 1);
      return true;
    });
  }
  return isDeepStrictEqual(actual, desired);
}

/** Top-level attribute names (and extension URNs) whose desired value the actual document lacks. */
export function driftedAttributes(desired: Document, actual: Document): string[] {
  return Object.keys(desired).filter((key) => !IGNORED.has(key) && !covers(actual[key], desired[key]));
}

/** The subset of `actual` Roster manages, shaped like `desired`: the base for a repairing diff. */
export function managedPart(desired: Document, actual: Document): Document {
  const out: Document = {};
  for (const key of Object.keys(desired)) if (actual[key] !== undefined) out[key] = actual[key];
  return out;
}

export interface Overwrite {
  /** `title`, `name.givenName`, `urn:…:User:department`. */
  attribute: string;
  /** What the target holds now. */
  remote: unknown;
  /** What Roster will set. */
  desired: unknown;
}

/**
 * The values the target holds that bringing it to `desired` replaces: what an adoption overwrites
 * (an externalId someone else set, the case of a userName, a title). Attributes the target lacks
 * are added, not overwritten, and are not listed; complex single-valued attributes (name, an
 * extension) are listed per sub-attribute.
 */
export function overwrittenValues(desired: Document, actual: Document): Overwrite[] {
  const out: Overwrite[] = [];
  for (const key of driftedAttributes(desired, actual)) {
    const remote = actual[key];
    if (remote === undefined || remote === null) continue;
    const wanted = desired[key];
    if (isObject(wanted) && isObject(remote)) {
      const join = key.startsWith('urn:') ? ':' : '.';
      for (const sub of driftedAttributes(wanted, remote)) {
        if (remote[sub] !== undefined && remote[sub] !== null) out.push({ attribute: `${key}${join}${sub}`, remote: remote[sub], desired: wanted[sub] });
      }
    } else out.push({ attribute: key, remote, desired: wanted });
  }
  return out;
}
