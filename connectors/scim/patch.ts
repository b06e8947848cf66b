/**
 * The minimal RFC 7644 §3.5.2 PATCH that turns what the target acknowledged into what Roster wants:
 * one `replace` per changed attribute path (sub-attributes of single-valued complex attributes
 * such as `name.givenName` separately, multi-valued attributes as a whole), one `remove` per
 * attribute that is no longer wanted. Nothing changed, no operations.
 */
import { diffDocuments } from '../../src/lib/document-diff.js';
import type { Document } from '../profile.js';

export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path?: string;
  value?: unknown;
}

/** Keys a PATCH never carries: `schemas` describes the document, it is not an attribute. */
const NOT_PATCHED = new Set(['schemas']);

export function attributeOperations(acknowledged: Document, desired: Document): PatchOperation[] {
  const strip = (doc: Document) => Object.fromEntries(Object.entries(doc).filter(([key]) => !NOT_PATCHED.has(key)));
  return diffDocuments(strip(acknowledged), strip(desired)).map((change) =>
    change.after === undefined ? { op: 'remove', path: change.path } : { op: 'replace', path: change.path, value: change.after },
  );
}

export function patchBody(operations: PatchOperation[]): Document {
  return { schemas: [PATCH_OP_SCHEMA], Operations: operations };
}

/** A SCIM filter string literal (RFC 7644 §3.4.2.2: a JSON string). */
export function quote(value: string): string {
  return JSON.stringify(value);
}
