/**
 * Validates a User or Group body from POST or PUT (and a patched document) and turns it into the
 * stored document. scimmy coerces types, canonical values and required attributes; Roster adds
 * what scimmy skips: unknown attributes are rejected instead of silently dropped, string booleans
 * from Entra ID are accepted, and server-owned attributes (id, meta, groups) are ignored.
 */
import SCIMMY from 'scimmy';
import { coerceBooleanStrings } from './patch/boolean-strings.js';
import { invalidSyntax, invalidValue, ScimError, type ScimType } from './errors.js';
import { canonicalExtensionUrn, coreAttributes, extensionAttributes, extensionUrns, type AttributeInfo } from './schema/catalog.js';
import { declareScimResources } from './schema/scimmy-setup.js';
import { CORE_SCHEMA_BY_TYPE, ENTERPRISE_USER_SCHEMA, type ResourceTypeName } from './schema/urns.js';

export interface MemberInput {
  value: string;
  type?: 'User' | 'Group';
}

export interface ValidatedBody {
  resource: Record<string, unknown>;
  password?: string;
  /** Group members named in the body (undefined when the body has no `members`). */
  members?: MemberInput[];
}

const SERVER_OWNED = new Set(['id', 'meta', 'schemas']);

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkKnownAttributes(
  attributes: ReadonlyMap<string, AttributeInfo>,
  value: Record<string, unknown>,
  where: string,
  type: ResourceTypeName,
): void {
  for (const [key, child] of Object.entries(value)) {
    if (where === '' && (SERVER_OWNED.has(key.toLowerCase()) || canonicalExtensionUrn(type, key))) continue;
    const attribute = attributes.get(key.toLowerCase());
    if (!attribute) {
      const hint = key.startsWith('urn:') ? ' (schema extension not supported by this resource type)' : '';
      throw invalidValue(`Unknown attribute "${where}${key}" for ${type}${hint}`);
    }
    if (attribute.type !== 'complex' || !attribute.subAttributes || child === null || child === undefined) continue;
    const elements = attribute.multiValued && Array.isArray(child) ? child : [child];
    for (const element of elements) {
      if (isPlainObject(element)) checkKnownAttributes(attribute.subAttributes, element, `${where}${attribute.name}.`, type);
    }
  }
}

function checkExtensions(type: ResourceTypeName, body: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(body)) {
    if (!key.toLowerCase().startsWith('urn:')) continue;
    const urn = canonicalExtensionUrn(type, key);
    if (!urn) throw invalidValue(`Unknown schema extension "${key}" for ${type}`);
    if (!isPlainObject(value)) throw invalidValue(`"${key}" must be an object of extension attributes`);
    checkKnownAttributes(extensionAttributes(type, urn)!, value, `${urn}:`, type);
  }
}

function checkSchemas(type: ResourceTypeName, body: Record<string, unknown>): void {
  const schemas = body.schemas;
  const core = CORE_SCHEMA_BY_TYPE[type];
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === core.toLowerCase())) {
    throw invalidSyntax(`"schemas" must be an array that includes "${core}"`);
  }
}

/** Re-throws scimmy's errors as Roster's, keeping status, scimType and message. */
export function fromScimmyError(error: unknown): never {
  if (error instanceof SCIMMY.Types.Error) {
    const e = error as unknown as { status: number; scimType?: string; message: string };
    throw new ScimError(e.status, e.scimType as ScimType | undefined, e.message);
  }
  if (error instanceof TypeError) throw invalidValue(error.message);
  throw error;
}

function coerceWithScimmy(type: ResourceTypeName, body: Record<string, unknown>): Record<string, unknown> {
  declareScimResources();
  const schema = type === 'User' ? SCIMMY.Schemas.User : SCIMMY.Schemas.Group;
  try {
    const instance = new schema(body, 'in');
    return JSON.parse(JSON.stringify(instance)) as Record<string, unknown>;
  } catch (error) {
    return fromScimmyError(error);
  }
}

function extractMembers(value: unknown): MemberInput[] {
  if (value === null) return [];
  if (!Array.isArray(value)) throw invalidValue('"members" must be an array of {"value": "<id>"} objects');
  return value.map((member, index) => {
    if (!isPlainObject(member) || typeof member.value !== 'string' || member.value.trim() === '') {
      throw invalidValue(`members[${index}] must be an object with a non-empty string "value"`);
    }
    const rawType = member.type;
    if (rawType !== undefined && rawType !== null && typeof rawType !== 'string') throw invalidValue(`members[${index}].type must be "User" or "Group"`);
    const type = typeof rawType === 'string' ? rawType.toLowerCase() : undefined;
    if (type !== undefined && type !== 'user' && type !== 'group') throw invalidValue(`members[${index}].type must be "User" or "Group"`);
    return { value: member.value.trim(), ...(type ? { type: type === 'user' ? ('User' as const) : ('Group' as const) } : {}) };
  });
}

/**
 * Entra ID sends the enterprise `manager` as the manager's id string instead of {"value": id}
 * (seen before aadOptscim062020); accept both.
 */
function managerStringToObject(body: Record<string, unknown>): Record<string, unknown> {
  const key = Object.keys(body).find((k) => k.toLowerCase() === ENTERPRISE_USER_SCHEMA.toLowerCase());
  const extension = key ? body[key] : undefined;
  if (!key || !isPlainObject(extension) || typeof extension.manager !== 'string') return body;
  return { ...body, [key]: { ...extension, manager: { value: extension.manager } } };
}

/** Removes attributes the client may not set and the server keeps elsewhere. */
function toStoredDocument(coerced: Record<string, unknown>): Record<string, unknown> {
  const { schemas: _schemas, id: _id, meta: _meta, groups: _groups, members: _members, password: _password, ...rest } = coerced;
  for (const [key, value] of Object.entries(rest)) {
    if (isPlainObject(value) && Object.keys(value).length === 0) delete rest[key];
  }
  return rest;
}

export function validateResourceBody(type: ResourceTypeName, rawBody: unknown): ValidatedBody {
  if (!isPlainObject(rawBody)) throw invalidSyntax('The request body must be a JSON object');
  checkSchemas(type, rawBody);
  const body = managerStringToObject(coerceBooleanStrings(type, rawBody) as Record<string, unknown>);
  checkKnownAttributes(coreAttributes(type), body, '', type);
  checkExtensions(type, body);

  const { members, password, groups: _ignoredGroups, schemas, ...rest } = body;
  // Entra ID lists a schema of its own ("…/ADSCIM/2.0/Group") in `schemas`; keep only the ones
  // this resource type declares so scimmy does not reject the body.
  const known = [CORE_SCHEMA_BY_TYPE[type].toLowerCase(), ...extensionUrns(type).map((u) => u.toLowerCase())];
  rest.schemas = (schemas as unknown[]).filter((s) => typeof s === 'string' && known.includes(s.toLowerCase()));
  if (password !== undefined && password !== null && typeof password !== 'string') throw invalidValue('"password" must be a string');
  const coerced = coerceWithScimmy(type, rest);
  return {
    resource: toStoredDocument(coerced),
    ...(typeof password === 'string' ? { password } : {}),
    ...(type === 'Group' && members !== undefined ? { members: extractMembers(members) } : {}),
  };
}

/** Validates a document produced by PATCH, which has no `schemas`. */
export function validateDocument(type: ResourceTypeName, document: Record<string, unknown>): ValidatedBody {
  return validateResourceBody(type, { schemas: [CORE_SCHEMA_BY_TYPE[type]], ...document });
}
