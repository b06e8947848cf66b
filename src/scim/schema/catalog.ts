/**
 * What the rest of Roster needs to know about an attribute path, read from scimmy's schema
 * definitions: its canonical name, type, plurality, case rules, mutability, and where it lives in
 * the stored `resource` JSONB document.
 *
 * Storage layout (see migrations): a resource row keeps its SCIM representation in the JSONB
 * column `resource`, shaped exactly like the wire format with canonical attribute names; core
 * attributes at the top level, extension attributes under their schema URN key. Server-owned
 * attributes (`id`, `meta`) are real columns; `password` is a hash column; `members` (Group) and
 * `groups` (User) live in the `group_members` table.
 */
import SCIMMY from 'scimmy';
import { declareScimResources } from './scimmy-setup.js';
import { CORE_SCHEMA_BY_TYPE, EXTENSIONS_BY_TYPE, type ResourceTypeName } from './urns.js';

export type AttributeType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'binary' | 'complex';
export type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
export type Returned = 'always' | 'never' | 'default' | 'request';

export interface AttributeInfo {
  /** Canonical attribute name (case as the schema declares it). */
  name: string;
  /** Schema URN the attribute belongs to. */
  schema: string;
  /** Whether the attribute comes from an extension (stored under the URN key). */
  inExtension: boolean;
  /** JSON path of the value inside the stored `resource` document, e.g. ['name','givenName'] or [URN,'department']. */
  storagePath: string[];
  type: AttributeType;
  multiValued: boolean;
  caseExact: boolean;
  mutability: Mutability;
  returned: Returned;
  required: boolean;
  canonicalValues: readonly string[] | false;
  /** For complex attributes: the sub-attributes by lower-cased name. */
  subAttributes?: ReadonlyMap<string, AttributeInfo>;
  /** For a sub-attribute: its parent. */
  parent?: AttributeInfo;
}

interface ScimmyAttribute {
  name: string;
  type: string;
  config: Record<string, unknown>;
  subAttributes?: ScimmyAttribute[];
}

interface SchemaIndex {
  core: Map<string, AttributeInfo>;
  extensions: Map<string, Map<string, AttributeInfo>>; // by lower-cased URN
  extensionUrns: Map<string, string>; // lower-cased URN → canonical URN
}

const indexes = new Map<ResourceTypeName, SchemaIndex>();

function toMutability(value: unknown): Mutability {
  if (value === false || value === 'readOnly') return 'readOnly';
  if (value === 'immutable') return 'immutable';
  if (value === 'writeOnly') return 'writeOnly';
  return 'readWrite';
}

function toReturned(value: unknown): Returned {
  if (value === 'always' || value === 'never' || value === 'request') return value;
  // scimmy writes returned: false for "never" (e.g. password).
  if (value === false) return 'never';
  return 'default';
}

function describe(attribute: ScimmyAttribute, schema: string, inExtension: boolean, basePath: string[], parent?: AttributeInfo): AttributeInfo {
  const config = attribute.config;
  const info: AttributeInfo = {
    name: attribute.name,
    schema,
    inExtension,
    storagePath: [...basePath, attribute.name],
    type: attribute.type as AttributeType,
    multiValued: config.multiValued === true,
    caseExact: config.caseExact === true,
    mutability: toMutability(config.mutable),
    returned: toReturned(config.returned),
    required: config.required === true,
    canonicalValues: Array.isArray(config.canonicalValues) ? (config.canonicalValues as string[]) : false,
    ...(parent ? { parent } : {}),
  };
  if (attribute.type === 'complex' && attribute.subAttributes) {
    const subs = new Map<string, AttributeInfo>();
    // Sub-attributes of a multi-valued complex attribute live inside each array element, so their
    // storage path is relative to the element.
    const subBase = info.multiValued ? [] : info.storagePath;
    for (const sub of attribute.subAttributes) subs.set(sub.name.toLowerCase(), describe(sub, schema, inExtension, subBase, info));
    info.subAttributes = subs;
  }
  return info;
}

function buildIndex(type: ResourceTypeName): SchemaIndex {
  declareScimResources();
  const coreDefinition = (type === 'User' ? SCIMMY.Schemas.User : SCIMMY.Schemas.Group).definition as unknown as {
    id: string;
    attributes: ScimmyAttribute[];
  };
  const core = new Map<string, AttributeInfo>();
  for (const attribute of coreDefinition.attributes) {
    // Declared extensions appear in scimmy's core definition as pseudo-attributes without a config.
    if (attribute.name === 'schemas' || !attribute.config) continue;
    core.set(attribute.name.toLowerCase(), describe(attribute, CORE_SCHEMA_BY_TYPE[type], false, []));
  }
  const extensions = new Map<string, Map<string, AttributeInfo>>();
  const extensionUrns = new Map<string, string>();
  // Declared extensions appear among the core definition's attributes as whole schema definitions.
  const allSchemas = (coreDefinition.attributes as unknown as Array<{ id?: string; attributes?: ScimmyAttribute[] }>)
    .filter((entry): entry is { id: string; attributes: ScimmyAttribute[] } => !!entry.id && Array.isArray(entry.attributes));
  for (const urn of EXTENSIONS_BY_TYPE[type]) {
    const definition = allSchemas.find((schema) => schema.id === urn);
    if (!definition) throw new Error(`Schema extension ${urn} is not declared to scimmy`);
    const attributes = new Map<string, AttributeInfo>();
    for (const attribute of definition.attributes) {
      if (['schemas', 'id', 'externalId', 'meta'].includes(attribute.name)) continue;
      attributes.set(attribute.name.toLowerCase(), describe(attribute, urn, true, [urn]));
    }
    extensions.set(urn.toLowerCase(), attributes);
    extensionUrns.set(urn.toLowerCase(), urn);
  }
  return { core, extensions, extensionUrns };
}

function indexFor(type: ResourceTypeName): SchemaIndex {
  let index = indexes.get(type);
  if (!index) {
    index = buildIndex(type);
    indexes.set(type, index);
  }
  return index;
}

/** The canonical URNs of the extensions a resource type declares. */
export function extensionUrns(type: ResourceTypeName): string[] {
  return [...indexFor(type).extensionUrns.values()];
}

/** Canonical form of an extension URN written in any case, or undefined if the type has no such extension. */
export function canonicalExtensionUrn(type: ResourceTypeName, urn: string): string | undefined {
  return indexFor(type).extensionUrns.get(urn.toLowerCase());
}

/** Top-level attributes of the core schema (by lower-cased name). */
export function coreAttributes(type: ResourceTypeName): ReadonlyMap<string, AttributeInfo> {
  return indexFor(type).core;
}

/** Top-level attributes of an extension (by lower-cased name). */
export function extensionAttributes(type: ResourceTypeName, urn: string): ReadonlyMap<string, AttributeInfo> | undefined {
  return indexFor(type).extensions.get(urn.toLowerCase());
}

/**
 * Splits an attribute path such as `urn:…:enterprise:2.0:User:manager.value` into its schema URN
 * (if any) and the dotted attribute names. URN matching is case-insensitive (RFC 7643 §2.1).
 */
export function splitAttributePath(type: ResourceTypeName, path: string): { urn?: string; names: string[] } {
  const lower = path.toLowerCase();
  const index = indexFor(type);
  for (const [lowerUrn, urn] of index.extensionUrns) {
    if (lower.startsWith(lowerUrn + ':')) return { urn, names: path.slice(urn.length + 1).split('.') };
  }
  const core = CORE_SCHEMA_BY_TYPE[type];
  if (lower.startsWith(core.toLowerCase() + ':')) return { names: path.slice(core.length + 1).split('.') };
  return { names: path.split('.') };
}

/**
 * Resolves an attribute path (`userName`, `name.givenName`, `emails.value`,
 * `urn:…:enterprise:2.0:User:department`) to its description, case-insensitively.
 * Returns undefined when the schema declares no such attribute.
 */
export function resolveAttribute(type: ResourceTypeName, path: string): AttributeInfo | undefined {
  const { urn, names } = splitAttributePath(type, path);
  const top = urn ? extensionAttributes(type, urn) : coreAttributes(type);
  if (!top || names.length === 0 || names.length > 2) return undefined;
  const first = top.get(names[0]!.toLowerCase());
  if (!first) return undefined;
  if (names.length === 1) return first;
  return first.subAttributes?.get(names[1]!.toLowerCase());
}

/** Looks up a sub-attribute of a complex attribute by name, case-insensitively. */
export function subAttribute(parent: AttributeInfo, name: string): AttributeInfo | undefined {
  return parent.subAttributes?.get(name.toLowerCase());
}
