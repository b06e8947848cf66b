/** Builds the SCIM representation of a stored row (RFC 7643 §3.1 common attributes and meta). */
import type { GroupRef, MemberRow } from '../store/member-store.js';
import type { ResourceRow } from '../store/rows.js';
import { etagOf } from './etag.js';
import { CORE_SCHEMA_BY_TYPE, EXTENSIONS_BY_TYPE, type ResourceTypeName } from './schema/urns.js';

export const ENDPOINT_BY_TYPE: Record<ResourceTypeName, string> = { User: 'Users', Group: 'Groups' };

export interface Related {
  members?: MemberRow[] | undefined;
  groups?: GroupRef[] | undefined;
}

export function resourceLocation(baseUrl: string, type: ResourceTypeName, id: string): string {
  return `${baseUrl}/${ENDPOINT_BY_TYPE[type]}/${id}`;
}

export function renderResource(type: ResourceTypeName, row: ResourceRow, related: Related, baseUrl: string): Record<string, unknown> {
  const schemas = [CORE_SCHEMA_BY_TYPE[type], ...EXTENSIONS_BY_TYPE[type].filter((urn) => row.resource[urn] !== undefined)];
  return {
    schemas,
    id: row.id,
    ...row.resource,
    ...(related.members ? { members: related.members.map(withMemberRef(baseUrl)) } : {}),
    ...(related.groups ? { groups: related.groups.map((g) => ({ ...g, $ref: resourceLocation(baseUrl, 'Group', g.value) })) } : {}),
    meta: {
      resourceType: type,
      created: row.created_at.toISOString(),
      lastModified: row.updated_at.toISOString(),
      location: resourceLocation(baseUrl, type, row.id),
      version: etagOf(row.version),
    },
  };
}

const withMemberRef = (baseUrl: string) => (member: MemberRow) => ({
  value: member.value,
  ...(member.display ? { display: member.display } : {}),
  type: member.type,
  $ref: resourceLocation(baseUrl, member.type, member.value),
});
