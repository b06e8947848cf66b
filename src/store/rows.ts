import type { ResourceTypeName } from '../scim/schema/urns.js';

/** A member of a group as stored in group_members (display filled in on reads). */
export interface MemberRow {
  value: string;
  type: 'User' | 'Group';
  display?: string;
}

/** A group a user is in, directly or through a nested group (the User's `groups` attribute). */
export interface GroupRef {
  value: string;
  display?: string;
  type: 'direct' | 'indirect';
}

/** A stored User or Group row. `resource` is the wire-shaped document without id/meta/members/groups. */
export interface ResourceRow {
  id: string;
  resource: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
  /** Users only, when the read asked for them (see groupsJsonSql): the groups the user is in. */
  groups?: GroupRef[];
}

/** A row read with its document as PostgreSQL's JSON text (see documentTextColumns in resource-store). */
export interface ResourceTextRow extends Omit<ResourceRow, 'resource'> {
  resource_text: string;
  /** The extension schema URNs present at the top level of the document, in EXTENSIONS_BY_TYPE order. */
  extensions: string[];
}

/** A row as read for a response: its document parsed, or as text. */
export type ReadRow = ResourceRow | ResourceTextRow;

export type ResourceTable = 'users' | 'groups';

export const TABLE_BY_TYPE: Record<ResourceTypeName, ResourceTable> = { User: 'users', Group: 'groups' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else cannot name a stored resource (and must not reach a uuid cast). */
export function isResourceId(value: string): boolean {
  return UUID.test(value);
}
