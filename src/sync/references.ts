/**
 * References in a document Roster pushes: the enterprise `manager` (RFC 7643 §4.3: `value` is "the
 * id of the SCIM resource representing the User's manager", on the server that holds it) and any
 * complex value whose `$ref` names a User or Group. In Roster's documents they carry Roster's ids;
 * the target knows its own. So before a document goes out, each reference is translated to the
 * target's id (and its `$ref` to the target's URI), the way group members already are, and only a
 * reference to an object that exists on the target goes out (decision 0208):
 *   linked        the referenced object is in the connector's scope and active on the target:
 *                 sent as the target's id;
 *   pending       in scope but not on the target yet: held back; when it appears there, the
 *                 objects referring to it are synced again (sync_links.referenced_ids) and the
 *                 reference follows;
 *   out-of-scope  outside the connector's scope, or not a Roster resource at all: left out, and the
 *                 reason journaled with the request that goes without it.
 */
import type { Knex } from 'knex';
import { ENTERPRISE_SCHEMA } from '../../connectors/generic/profile.js';
import type { Document } from '../../connectors/profile.js';
import { isResourceId } from '../store/rows.js';
import type { Connector, ResourceType } from './connector.js';
import { ENDPOINT } from './remote.js';

export interface Reference {
  /** Where it sits, as a SCIM path: `urn:…:enterprise:2.0:User:manager`, `x.y`. */
  attribute: string;
  type: ResourceType;
  /** The local id it names (lower-case), or the value as found when it is not a Roster id. */
  id: string;
}

export type Resolution = { kind: 'linked'; remoteId: string } | { kind: 'pending' } | { kind: 'out-of-scope' };

export interface HeldBack extends Reference {
  reason: 'not-on-target-yet' | 'out-of-scope';
}

export interface TranslatedDocument {
  /** The document as the target must see it. */
  document: Document;
  /** Every local id the original document refers to (for sync_links.referenced_ids). */
  referencedIds: string[];
  /** References left out of `document`, and why. */
  heldBack: HeldBack[];
}

const RESOURCE_URI = /\/(Users|Groups)\/([^/?#]+)$/;
const MANAGER = `${ENTERPRISE_SCHEMA}:manager`;

const isObject = (value: unknown): value is Document => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The reference a complex value is, if it is one. */
function referenceAt(node: Document, attribute: string): Reference | undefined {
  const ref = typeof node.$ref === 'string' ? RESOURCE_URI.exec(node.$ref) : null;
  if (attribute === MANAGER || ref) {
    const type: ResourceType = ref?.[1] === 'Groups' ? 'Group' : 'User';
    const raw = typeof node.value === 'string' ? node.value : ref ? decodeURIComponent(ref[2]!) : undefined;
    if (raw === undefined) return undefined;
    return { attribute, type, id: isResourceId(raw) ? raw.toLowerCase() : raw };
  }
  return undefined;
}

/**
 * Rebuilds `node` with every reference passed through `replace` (undefined drops the reference's
 * whole value). Paths are SCIM's: `a.b`, and `urn:…:User:a` inside a top-level extension object.
 */
function rewrite(node: unknown, attribute: string, replace: (node: Document, reference: Reference) => Document | undefined, depth = 0): unknown {
  if (Array.isArray(node)) {
    return node.map((element) => rewrite(element, attribute, replace, depth)).filter((element) => element !== undefined);
  }
  if (!isObject(node)) return node;
  const reference = depth > 0 ? referenceAt(node, attribute) : undefined;
  if (reference) return replace(node, reference);
  const extensionRoot = depth === 1 && attribute.startsWith('urn:');
  const out: Document = {};
  for (const [key, value] of Object.entries(node)) {
    const path = depth === 0 ? key : extensionRoot ? `${attribute}:${key}` : `${attribute}.${key}`;
    const rewritten = rewrite(value, path, replace, depth + 1);
    if (rewritten !== undefined) out[key] = rewritten;
  }
  return out;
}

/** The references in a document. */
export function findReferences(document: Document): Reference[] {
  const found: Reference[] = [];
  rewrite(document, '', (node, reference) => {
    found.push(reference);
    return node;
  });
  return found;
}

const keyOf = (type: ResourceType, id: string) => `${type}:${id}`;

/**
 * Where each referenced object stands on this connector: one query per resource type, with the
 * same scope condition as everything else the connector does.
 */
export async function resolveReferences(db: Knex, connector: Connector, references: readonly Reference[]): Promise<Map<string, Resolution>> {
  const resolutions = new Map<string, Resolution>();
  for (const type of ['User', 'Group'] as const) {
    const ids = [...new Set(references.filter((r) => r.type === type && isResourceId(r.id)).map((r) => r.id))];
    if (ids.length === 0) continue;
    const scope = connector.scopeSql(type);
    const { rows } = (await db.raw(
      `SELECT k.id::text AS id, coalesce(r.id IS NOT NULL AND (${scope.sql}), false) AS in_scope, l.remote_id, l.state
         FROM unnest(?::uuid[]) AS k(id)
         LEFT JOIN ${type === 'User' ? 'users' : 'groups'} r ON r.id = k.id
         LEFT JOIN sync_links l ON l.connector = ? AND l.resource_type = ? AND l.resource_id = k.id`,
      [...scope.bindings, ids, connector.name, type],
    )) as { rows: Array<{ id: string; in_scope: boolean; remote_id: string | null; state: string | null }> };
    for (const row of rows) {
      resolutions.set(
        keyOf(type, row.id),
        !row.in_scope ? { kind: 'out-of-scope' } : row.state === 'active' && row.remote_id ? { kind: 'linked', remoteId: row.remote_id } : { kind: 'pending' },
      );
    }
  }
  return resolutions;
}

/** The document with its references in the target's ids; pure, given the resolutions. */
export function translateReferences(document: Document, resolutions: ReadonlyMap<string, Resolution>, baseUrl: string): TranslatedDocument {
  const referencedIds = new Set<string>();
  const heldBack: HeldBack[] = [];
  const translated = rewrite(document, '', (node, reference) => {
    if (isResourceId(reference.id)) referencedIds.add(reference.id);
    const resolution = resolutions.get(keyOf(reference.type, reference.id)) ?? { kind: 'out-of-scope' };
    if (resolution.kind !== 'linked') {
      heldBack.push({ ...reference, reason: resolution.kind === 'pending' ? 'not-on-target-yet' : 'out-of-scope' });
      return undefined;
    }
    // The name shown with a reference is the target's to fill in: the manager's displayName is
    // read-only (RFC 7643 §4.3), and a `display` would name Roster's object, not the target's.
    const { display: _display, ...out } = node;
    if (reference.attribute === MANAGER) delete out.displayName;
    out.value = resolution.remoteId;
    if (node.$ref !== undefined) out.$ref = `${baseUrl}${ENDPOINT[reference.type]}/${encodeURIComponent(resolution.remoteId)}`;
    return out;
  }) as Document;
  // An extension left empty by a dropped reference is not sent, nor named in `schemas`.
  for (const [key, value] of Object.entries(translated)) {
    if (key.startsWith('urn:') && isObject(value) && Object.keys(value).length === 0 && isObject(document[key]) && Object.keys(document[key]).length > 0) {
      delete translated[key];
      if (Array.isArray(translated.schemas)) translated.schemas = translated.schemas.filter((schema) => schema !== key);
    }
  }
  return { document: translated, referencedIds: [...referencedIds], heldBack };
}

/** findReferences + resolveReferences + translateReferences for one document (no query when it has none). */
export async function toTargetReferences(db: Knex, connector: Connector, document: Document): Promise<TranslatedDocument> {
  const references = findReferences(document);
  if (references.length === 0) return { document, referencedIds: [], heldBack: [] };
  return translateReferences(document, await resolveReferences(db, connector, references), connector.config.baseUrl);
}

/** The journal's words for a held-back reference. */
export function heldBackDetails(connector: string, reference: HeldBack): Record<string, unknown> {
  return {
    attribute: reference.attribute,
    reference: { type: reference.type, id: reference.id },
    reason: reference.reason,
    detail:
      reference.reason === 'out-of-scope'
        ? `${reference.type} ${reference.id} is not in connector ${connector}'s scope (or not a Roster resource); the reference is left out`
        : `${reference.type} ${reference.id} is not on the target yet; the reference is sent once it is`,
  };
}
