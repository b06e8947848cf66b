export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
/** Roster's HR extension: the HR attributes the enterprise extension lacks. */
export const ROSTER_HR_SCHEMA = 'urn:ietf:params:scim:schemas:extension:roster:2.0:User';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SEARCH_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
export const BULK_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
export const BULK_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

export type ResourceTypeName = 'User' | 'Group';
export const EXTENSIONS_BY_TYPE: Record<ResourceTypeName, readonly string[]> = {
  User: [ENTERPRISE_USER_SCHEMA, ROSTER_HR_SCHEMA],
  Group: [],
};
export const CORE_SCHEMA_BY_TYPE: Record<ResourceTypeName, string> = { User: USER_SCHEMA, Group: GROUP_SCHEMA };
