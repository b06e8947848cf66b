/**
 * AWS IAM Identity Center, from its "SCIM implementation developer guide" (docs.aws.amazon.com/
 * singlesignon/latest/developerguide): what each rule below encodes, in the guide's words.
 *  - "A maximum of 100 membership changes are allowed in a single request" (PatchGroup) and "A
 *    maximum of 100 members can be added in a single request" (CreateGroup): membersPerRequest 100.
 *  - PatchGroup does not support "replace or remove all group memberships": members only ever go
 *    as add/remove deltas; removal examples use `path: "members"` with a value array.
 *  - GetGroup and ListGroups "return an empty member list": membership cannot be read back, so
 *    reconciliation trusts the acknowledged membership rather than reporting every member as drift.
 *  - Only `eq` (with `and` in fixed combinations) is supported in filters; ListUsers filters on
 *    userName or externalId. Roster only ever sends `attr eq "value"`.
 *  - ListUsers/ListGroups return at most 100 per page and page by `cursor` (startIndex is not
 *    supported).
 *  - Users: no multi-valued attributes ("Only single values are permitted" for emails, addresses,
 *    phoneNumbers; the email "must be marked as primary"); no ims, photos, x509Certificates,
 *    entitlements, password; givenName, familyName, userName and displayName are required.
 *  - No nested groups (a group's members are users).
 */
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from '../generic/profile.js';
import type { Document, Profile } from '../profile.js';

const SINGLE_VALUED = ['userName', 'displayName', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'active'];
const NAME_PARTS = ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'];
const ENTERPRISE_PARTS = ['employeeNumber', 'costCenter', 'organization', 'division', 'department', 'manager'];

/** The primary value of a multi-valued attribute, else the first; without `display` (unsupported). */
function single(values: unknown, markPrimary: boolean): Document[] | undefined {
  if (!Array.isArray(values) || values.length === 0) return undefined;
  const chosen = (values.find((v) => (v as Document)?.primary === true) ?? values[0]) as Document;
  const { display: _display, ...rest } = chosen;
  return [markPrimary ? { ...rest, primary: true } : rest];
}

function pick(source: unknown, keys: readonly string[]): Document | undefined {
  if (!source || typeof source !== 'object') return undefined;
  const out: Document = {};
  for (const key of keys) {
    const value = (source as Document)[key];
    if (value !== undefined && value !== null) out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export function mapAwsUser(resource: Document, localId: string): Document {
  const document: Document = { schemas: [USER_SCHEMA] };
  for (const key of SINGLE_VALUED) if (resource[key] !== undefined) document[key] = resource[key];
  const name = pick(resource.name, NAME_PARTS);
  if (name) document.name = name;
  if (document.displayName === undefined) {
    // displayName is required by AWS; derive it the way a directory would show the person.
    const derived = name?.formatted ?? [name?.givenName, name?.familyName].filter(Boolean).join(' ');
    if (derived) document.displayName = derived;
  }
  const emails = single(resource.emails, true);
  if (emails) document.emails = emails;
  const phones = single(resource.phoneNumbers, false);
  if (phones) document.phoneNumbers = phones;
  const addresses = single(resource.addresses, false);
  if (addresses) document.addresses = addresses;
  const enterprise = pick(resource[ENTERPRISE_SCHEMA], ENTERPRISE_PARTS);
  if (enterprise) {
    // "displayName subattribute for manager" is not supported.
    if (enterprise.manager && typeof enterprise.manager === 'object') {
      const { displayName: _d, $ref: _r, ...manager } = enterprise.manager as Document;
      enterprise.manager = manager;
    }
    document[ENTERPRISE_SCHEMA] = enterprise;
    document.schemas = [USER_SCHEMA, ENTERPRISE_SCHEMA];
  }
  document.externalId = localId;
  return document;
}

export function checkAwsUser(document: Document): string | undefined {
  const name = (document.name ?? {}) as Document;
  const missing = [
    ['userName', document.userName],
    ['name.givenName', name.givenName],
    ['name.familyName', name.familyName],
    ['displayName', document.displayName],
  ]
    .filter(([, value]) => typeof value !== 'string' || value === '')
    .map(([key]) => key);
  if (missing.length === 0) return undefined;
  return `AWS IAM Identity Center requires ${missing.join(', ')} (CreateUser/PutUser constraints); set ${missing.length > 1 ? 'them' : 'it'} on the user in Roster`;
}

export const awsIamIdentityCenterProfile: Profile = {
  name: 'aws-iam-identity-center',
  mapUser: mapAwsUser,
  checkUser: checkAwsUser,
  mapGroup: (resource, localId) => ({ schemas: [GROUP_SCHEMA], displayName: resource.displayName, externalId: localId }),
  userUpdate: 'patch',
  membersPerRequest: 100,
  memberRemoval: 'value-array',
  membersReadable: false,
  nestedGroups: false,
  paging: 'cursor',
  pageSize: 100,
};
