/**
 * Builds the SCIM representation of a stored row (RFC 7643 §3.1 common attributes and meta).
 * Two forms: an object (when `attributes`/`excludedAttributes` reshape the document), and JSON
 * text spliced around the document text PostgreSQL already produced (the common case: the whole
 * document), which skips parsing and re-serialising every stored document; see
 * docs/decisions/0011-document-text-responses.md. Both give the same JSON (test/scim-render.test.ts).
 */
import type { GroupRef, MemberRow } from '../store/rows.js';
import type { ResourceRow, ResourceTextRow } from '../store/rows.js';
import { etagOf } from './etag.js';
import { CORE_SCHEMA_BY_TYPE, EXTENSIONS_BY_TYPE, type ResourceTypeName } from './schema/urns.js';

export const ENDPOINT_BY_TYPE: Record<ResourceTypeName, string> = { User: 'Users', Group: 'Groups' };

export interface Related {
  members?: MemberRow[] | undefined;
  groups?: GroupRef[] | undefined;
}

/** Serialised JSON, inserted as is into a response body by serializeScimBody. */
export class JsonText {
  constructor(readonly text: string) {}
}

export function resourceLocation(baseUrl: string, type: ResourceTypeName, id: string): string {
  return `${baseUrl}/${ENDPOINT_BY_TYPE[type]}/${id}`;
}

function metaOf(type: ResourceTypeName, row: Omit<ResourceRow, 'resource'>, baseUrl: string) {
  return {
    resourceType: type,
    created: row.created_at.toISOString(),
    lastModified: row.updated_at.toISOString(),
    location: resourceLocation(baseUrl, type, row.id),
    version: etagOf(row.version),
  };
}

function relatedOf(related: Related, baseUrl: string): { members?: unknown[]; groups?: unknown[] } {
  return {
    ...(related.members ? { members: related.members.map(withMemberRef(baseUrl)) } : {}),
    ...(related.groups ? { groups: related.groups.map((g) => ({ ...g, $ref: resourceLocation(baseUrl, 'Group', g.value) })) } : {}),
  };
}

export function renderResource(type: ResourceTypeName, row: ResourceRow, related: Related, baseUrl: string): Record<string, unknown> {
  const schemas = [CORE_SCHEMA_BY_TYPE[type], ...EXTENSIONS_BY_TYPE[type].filter((urn) => row.resource[urn] !== undefined)];
  return { schemas, id: row.id, ...row.resource, ...relatedOf(related, baseUrl), meta: metaOf(type, row, baseUrl) };
}

/** The same representation as renderResource, as text: the stored document is not parsed. */
export function renderResourceText(type: ResourceTypeName, row: ResourceTextRow, related: Related, baseUrl: string): JsonText {
  const head = JSON.stringify({ schemas: [CORE_SCHEMA_BY_TYPE[type], ...row.extensions], id: row.id });
  const tail = JSON.stringify({ ...relatedOf(related, baseUrl), meta: metaOf(type, row, baseUrl) });
  // The document text is a JSON object: its members go between the head's and the tail's.
  const members = row.resource_text.trim().slice(1, -1).trim();
  return new JsonText(`${head.slice(0, -1)}${members ? `,${members}` : ''},${tail.slice(1)}`);
}

const withMemberRef = (baseUrl: string) => (member: MemberRow) => ({
  value: member.value,
  ...(member.display ? { display: member.display } : {}),
  type: member.type,
  $ref: resourceLocation(baseUrl, member.type, member.value),
});
