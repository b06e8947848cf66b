/**
 * PUT replaces every mutable attribute, but an immutable attribute that has a value may not change
 * (RFC 7643 §2.2, RFC 7644 §3.5.1). scimmy builds a fresh instance for PUT and so cannot see it.
 */
import { isDeepStrictEqual } from 'node:util';
import { mutability } from '../scim/errors.js';
import { coreAttributes, extensionAttributes, extensionUrns, type AttributeInfo } from '../scim/schema/catalog.js';
import type { ResourceTypeName } from '../scim/schema/urns.js';

function check(attributes: ReadonlyMap<string, AttributeInfo>, before: Record<string, unknown>, after: Record<string, unknown>, prefix: string): void {
  for (const attribute of attributes.values()) {
    if (attribute.mutability !== 'immutable') continue;
    const old = before[attribute.name];
    if (old !== undefined && !isDeepStrictEqual(old, after[attribute.name])) {
      throw mutability(`Attribute "${prefix}${attribute.name}" is immutable and already has a value; it cannot be changed`);
    }
  }
}

export function assertImmutablesKept(type: ResourceTypeName, before: Record<string, unknown>, after: Record<string, unknown>): void {
  check(coreAttributes(type), before, after, '');
  for (const urn of extensionUrns(type)) {
    const b = (before[urn] ?? {}) as Record<string, unknown>;
    const a = (after[urn] ?? {}) as Record<string, unknown>;
    check(extensionAttributes(type, urn)!, b, a, `${urn}:`);
  }
}
