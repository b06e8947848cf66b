/**
 * Parses and validates a PATCH request body (RFC 7644 §3.5.2) into a list of operations, before any
 * of them touches a resource. Structural problems are reported here; whether an operation fits the
 * resource (unknown attribute, mutability, no target) is decided by `applyPatch`.
 */
import { invalidPath, invalidSyntax, invalidValue, noTarget, ScimError } from '../errors.js';
import { parsePatchPath, type PatchPath } from '../filter/parse.js';
import { PATCH_OP_SCHEMA } from '../schema/urns.js';

export type { PatchPath } from '../filter/parse.js';

export type PatchOpName = 'add' | 'remove' | 'replace';

export interface PatchOperation {
  op: PatchOpName;
  /** The parsed `path`; absent for path-less add/replace. */
  path?: PatchPath;
  /** The `path` exactly as sent, for error messages and logs. */
  rawPath?: string;
  /** The `value` as sent (no coercion yet; `applyPatch` coerces Entra's string booleans). */
  value?: unknown;
}

/**
 * Most operations one PATCH request may carry. RFC 7644 sets no limit; this one bounds the work a
 * single request can cause (every operation is applied in memory and journalled). Exceeding it is a
 * 400 invalidValue rather than 413 tooMany: in RFC 7644 `tooMany` is about filter result sizes, and
 * clients (Entra ID, Okta) send at most a few dozen operations, so only a broken client hits this.
 */
export const MAX_PATCH_OPERATIONS = 1000;

const OP_NAMES: ReadonlySet<string> = new Set(['add', 'remove', 'replace']);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads a member by name case-insensitively: SCIM attribute names, message ones included, are (RFC 7643 §2.1). */
function member(object: Record<string, unknown>, name: string): unknown {
  if (name in object) return object[name];
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(object)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

/** Parses a `path` (or a dotted/filtered key of a path-less value object), mapping failures to invalidPath. */
export function parsePath(text: string): PatchPath {
  if (text.trim() === '') throw invalidPath('The "path" of a PATCH operation must not be empty');
  try {
    return parsePatchPath(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    if (error instanceof ScimError && error.scimType === 'invalidPath') throw error;
    throw invalidPath(`Invalid PATCH path "${text}": ${detail}`);
  }
}

function parseOperation(raw: unknown, index: number): PatchOperation {
  const where = `operation ${index + 1}`;
  if (!isObject(raw)) throw invalidSyntax(`PATCH ${where} must be an object`);
  const rawOp = member(raw, 'op');
  const rawPath = member(raw, 'path');
  const rawValue = member(raw, 'value');

  // Entra ID (without aadOptscim062020) capitalises op names: "Replace", "Add", "Remove".
  if (typeof rawOp !== 'string' || !OP_NAMES.has(rawOp.toLowerCase())) {
    throw invalidSyntax(`PATCH ${where} has an unsupported "op" ${JSON.stringify(rawOp)}; expected add, remove or replace`);
  }
  const op = rawOp.toLowerCase() as PatchOpName;

  const operation: PatchOperation = { op };
  // A JSON null path is treated as absent: some clients serialise unset optional members as null.
  if (rawPath !== undefined && rawPath !== null) {
    if (typeof rawPath !== 'string') throw invalidPath(`The "path" of PATCH ${where} must be a string`);
    operation.rawPath = rawPath;
    operation.path = parsePath(rawPath);
  }

  if (op === 'remove') {
    // RFC 7644 §3.5.2.2: remove without a path is a noTarget error.
    if (!operation.path) throw noTarget(`PATCH ${where} is a remove without a "path"`);
    // A value is kept: Entra ID removes group members with path "members" plus a value array.
    if (rawValue !== undefined) operation.value = rawValue;
    return operation;
  }

  if (rawValue === undefined) throw invalidValue(`PATCH ${where} (${op}) has no "value"`);
  if (!operation.path && !isObject(rawValue)) {
    throw invalidValue(`PATCH ${where} (${op}) has no "path", so its "value" must be an object of attributes`);
  }
  if (op === 'add' && rawValue === null) throw invalidValue(`PATCH ${where} (add) has a null "value"`);
  operation.value = rawValue;
  return operation;
}

/**
 * Validates a PatchOp request body and returns its operations in order.
 * Throws ScimError 400 (invalidSyntax, invalidValue, invalidPath or noTarget) naming the operation.
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw invalidSyntax('A PATCH request body must be a JSON object');
  const schemas = member(body, 'schemas');
  // Schema URNs compare case-insensitively (RFC 7643 §2.1).
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase())) {
    throw invalidSyntax(`A PATCH request must list "${PATCH_OP_SCHEMA}" in "schemas"`);
  }
  const operations = member(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) {
    throw invalidSyntax('A PATCH request must carry a non-empty "Operations" array');
  }
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw invalidValue(`A PATCH request may carry at most ${MAX_PATCH_OPERATIONS} operations; this one has ${operations.length}`);
  }
  return operations.map(parseOperation);
}
