/**
 * ETags (RFC 7644 §3.14): `meta.version` and the ETag header are W/"<row version>". The version is
 * a counter bumped in the same statement as every write, so it changes exactly when the resource does.
 */
import { preconditionFailed } from './errors.js';

export const etagOf = (version: number): string => `W/"${version}"`;

const opaqueTag = (tag: string): string => tag.trim().replace(/^W\//, '');

function matches(header: string, version: number): boolean {
  const current = opaqueTag(etagOf(version));
  return header.split(',').some((tag) => tag.trim() === '*' || opaqueTag(tag) === current);
}

/** Throws 412 when an If-Match header names another version (weak comparison, as SCIM clients send W/ tags). */
export function checkIfMatch(ifMatch: string | undefined, version: number): void {
  if (ifMatch === undefined || ifMatch.trim() === '') return;
  if (!matches(ifMatch, version)) {
    throw preconditionFailed(`The resource has changed: its version is ${etagOf(version)}, the request expected ${ifMatch.trim()}. Read it again and retry.`);
  }
}

export function ifNoneMatchHits(ifNoneMatch: string | undefined, version: number): boolean {
  return ifNoneMatch !== undefined && ifNoneMatch.trim() !== '' && matches(ifNoneMatch, version);
}
