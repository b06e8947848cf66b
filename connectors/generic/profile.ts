/**
 * The generic SCIM 2.0 profile: RFC 7643 resources, RFC 7644 PATCH with filtered member removal,
 * index paging. Sends the core User and the enterprise extension; Roster's own HR extension stays
 * home, since a downstream app does not know its schema and would reject it (decision 0204).
 */
import type { Document, Profile } from '../profile.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** Keys Roster keeps in a stored User that are not pushed: server-owned or Roster-only. */
const NOT_PUSHED = new Set(['id', 'meta', 'groups', 'password', 'schemas', 'externalId', 'urn:ietf:params:scim:schemas:extension:roster:2.0:User']);

export function mapGenericUser(resource: Document, localId: string): Document {
  const document: Document = {};
  for (const [key, value] of Object.entries(resource)) {
    if (!NOT_PUSHED.has(key)) document[key] = value;
  }
  // RFC 7643 §3.1: externalId is "an identifier for the resource as defined by the provisioning
  // client". Roster is the provisioning client here, so it is Roster's id (decision 0204).
  document.externalId = localId;
  document.schemas = [USER_SCHEMA, ...(document[ENTERPRISE_SCHEMA] !== undefined ? [ENTERPRISE_SCHEMA] : [])];
  return document;
}

export function mapGenericGroup(resource: Document, localId: string): Document {
  return { schemas: [GROUP_SCHEMA], displayName: resource.displayName, externalId: localId };
}

export const genericProfile: Profile = {
  name: 'generic',
  mapUser: mapGenericUser,
  checkUser: (document) => (typeof document.userName === 'string' && document.userName !== '' ? undefined : 'userName is required'),
  mapGroup: mapGenericGroup,
  userUpdate: 'patch',
  membersPerRequest: 1000,
  memberRemoval: 'filter-path',
  membersReadable: true,
  nestedGroups: true,
  paging: 'index',
  pageSize: 500,
};
