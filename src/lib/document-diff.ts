/**
 * Attribute-level differences between two SCIM documents, for the journal's `changes` column and
 * the outbound connectors' minimal PATCH (connectors/scim/patch.ts): one entry per changed path (`title`, `name.givenName`, `urn:…:enterprise:2.0:User:department`),
 * multi-valued attributes compared as a whole.
 */
import { isDeepStrictEqual } from 'node:util';

export interface AttributeChange {
  path: string;
  before?: unknown;
  after?: unknown;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function diffDocuments(before: Record<string, unknown>, after: Record<string, unknown>): AttributeChange[] {
  const changes: AttributeChange[] = [];
  collect(before, after, '', changes, 0);
  return changes;
}

function collect(before: Record<string, unknown>, after: Record<string, unknown>, prefix: string, out: AttributeChange[], depth: number): void {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    const a = before[key];
    const b = after[key];
    if (isDeepStrictEqual(a, b)) continue;
    // Extension URN keys join with ':', sub-attributes with '.'.
    const path = prefix === '' ? key : prefix.startsWith('urn:') && depth === 1 ? `${prefix}:${key}` : `${prefix}.${key}`;
    if (depth < 2 && (isPlainObject(a) || isPlainObject(b)) && !Array.isArray(a) && !Array.isArray(b)) {
      collect(isPlainObject(a) ? a : {}, isPlainObject(b) ? b : {}, path, out, depth + 1);
      continue;
    }
    out.push({ path, ...(a === undefined ? {} : { before: a }), ...(b === undefined ? {} : { after: b }) });
  }
}
