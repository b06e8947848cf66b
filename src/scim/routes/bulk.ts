/**
 * POST /Bulk (RFC 7644 §3.7), served by Roster: each operation goes through the same write path
 * as a single request (its own transaction, journaled with source "bulk" and the bulk request id).
 * `bulkId:` references are resolved in data and in paths; an operation that refers to a bulkId
 * created later is deferred until that one has run, and circular references fail with 409 instead
 * of creating duplicates (a scimmy defect, see docs/decisions).
 */
import { Router } from 'express';
import { requireScope } from '../../http/auth.js';
import { sendScim } from '../../http/scim-response.js';
import { toScimError } from '../../http/errors.js';
import { conflict, invalidSyntax, invalidValue, payloadTooLarge, ScimError } from '../errors.js';
import { etagOf } from '../etag.js';
import { OPERATIONS } from '../operations.js';
import { resourceLocation } from '../render.js';
import { BULK_REQUEST_SCHEMA, BULK_RESPONSE_SCHEMA, type ResourceTypeName } from '../schema/urns.js';
import { isPlainObject } from '../validate.js';
import { actorOf, baseUrlOf, type ScimDependencies } from './context.js';
import { refuseOtherMethods } from './method-not-allowed.js';

interface BulkOperation {
  index: number;
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  bulkId?: string;
  version?: string;
  data?: unknown;
}

interface BulkResult {
  method: string;
  bulkId?: string;
  location?: string;
  version?: string;
  status: string;
  response?: unknown;
}

const BULK_REF = /bulkId:([A-Za-z0-9._~-]+)/g;

function readOperations(body: unknown, maxOperations: number): { operations: BulkOperation[]; failOnErrors?: number } {
  if (!isPlainObject(body)) throw invalidSyntax('The request body must be a JSON object');
  const schemas = body.schemas;
  if (!Array.isArray(schemas) || !schemas.includes(BULK_REQUEST_SCHEMA)) throw invalidSyntax(`"schemas" must include "${BULK_REQUEST_SCHEMA}"`);
  const raw = body.Operations;
  if (!Array.isArray(raw) || raw.length === 0) throw invalidValue('"Operations" must be a non-empty array');
  if (raw.length > maxOperations) throw payloadTooLarge(`The bulk request has ${raw.length} operations; the maximum is ${maxOperations}`);
  const failOnErrors = body.failOnErrors;
  if (failOnErrors !== undefined && (!Number.isInteger(failOnErrors) || (failOnErrors as number) < 1)) throw invalidValue('"failOnErrors" must be a positive integer');
  const seen = new Set<string>();
  const operations = raw.map((op, index): BulkOperation => {
    if (!isPlainObject(op)) throw invalidValue(`Operations[${index}] must be an object`);
    const method = typeof op.method === 'string' ? op.method.toUpperCase() : '';
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) throw invalidValue(`Operations[${index}].method must be POST, PUT, PATCH or DELETE`);
    if (typeof op.path !== 'string') throw invalidValue(`Operations[${index}].path must be a string such as "/Users"`);
    if (method === 'POST' && typeof op.bulkId !== 'string') throw invalidValue(`Operations[${index}] is a POST and needs a "bulkId"`);
    if (typeof op.bulkId === 'string') {
      if (seen.has(op.bulkId)) throw invalidValue(`bulkId "${op.bulkId}" is used twice`);
      seen.add(op.bulkId);
    }
    return {
      index,
      method: method as BulkOperation['method'],
      path: op.path,
      ...(typeof op.bulkId === 'string' ? { bulkId: op.bulkId } : {}),
      ...(typeof op.version === 'string' ? { version: op.version } : {}),
      ...(op.data !== undefined ? { data: op.data } : {}),
    };
  });
  return { operations, ...(typeof failOnErrors === 'number' ? { failOnErrors } : {}) };
}

function referencedBulkIds(op: BulkOperation): string[] {
  const text = JSON.stringify([op.path, op.data ?? null]);
  return [...text.matchAll(BULK_REF)].map((m) => m[1]!).filter((id) => id !== op.bulkId);
}

function substitute(value: unknown, ids: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return value.replace(BULK_REF, (whole, id: string) => ids.get(id) ?? whole);
  if (Array.isArray(value)) return value.map((v) => substitute(v, ids));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, ids)]));
  return value;
}

function target(path: string): { type: ResourceTypeName; id?: string } {
  const match = /^\/(Users|Groups)(?:\/([^/]+))?\/?$/.exec(path);
  if (!match) throw invalidValue(`Bulk path "${path}" must be /Users, /Groups, /Users/{id} or /Groups/{id}`);
  return { type: match[1] === 'Users' ? 'User' : 'Group', ...(match[2] ? { id: decodeURIComponent(match[2]) } : {}) };
}

const errorResult = (op: BulkOperation, error: ScimError): BulkResult => ({
  method: op.method,
  ...(op.bulkId ? { bulkId: op.bulkId } : {}),
  status: String(error.status),
  response: error.toJSON(),
});

export function bulkRouter(deps: ScimDependencies): Router {
  const router = Router();
  router.post('/Bulk', requireScope('scim:write'), deps.readBody, async (req, res) => {
    const { operations, failOnErrors } = readOperations(req.body, deps.limits.bulkMaxOperations);
    const baseUrl = baseUrlOf(req, deps.publicUrl);
    const actor = actorOf(req, 'bulk');
    const createdIds = new Map<string, string>();
    const results = new Map<number, BulkResult>();
    const definedBy = new Set(operations.filter((op) => op.method === 'POST').map((op) => op.bulkId!));
    let pending = operations;
    let errors = 0;

    const runOne = async (op: BulkOperation): Promise<BulkResult> => {
      const { type, id } = target(substitute(op.path, createdIds) as string);
      const data = substitute(op.data, createdIds);
      const operations = OPERATIONS[type];
      const preconditions = { ifMatch: op.version };
      if (op.method === 'POST') {
        if (id) throw invalidValue('A bulk POST path names a resource type, not an id');
        const row = await deps.writePath.run(actor, (context) => operations.create(context, data));
        createdIds.set(op.bulkId!, row.id);
        return { method: op.method, bulkId: op.bulkId!, location: resourceLocation(baseUrl, type, row.id), version: etagOf(row.version), status: '201' };
      }
      if (!id) throw invalidValue(`A bulk ${op.method} path must name a resource: /${type}s/{id}`);
      if (op.method === 'DELETE') {
        await deps.writePath.run(actor, (context) => operations.remove(context, id, preconditions));
        return { method: op.method, location: resourceLocation(baseUrl, type, id), status: '204' };
      }
      const run = op.method === 'PUT' ? operations.replace : operations.patch;
      const { row } = await deps.writePath.run(actor, (context) => run(context, id, data, preconditions));
      return { method: op.method, ...(op.bulkId ? { bulkId: op.bulkId } : {}), location: resourceLocation(baseUrl, type, row.id), version: etagOf(row.version), status: '200' };
    };

    outer: while (pending.length > 0) {
      const ready = pending.filter((op) => referencedBulkIds(op).every((ref) => createdIds.has(ref) || !definedBy.has(ref) || !pending.some((p) => p.bulkId === ref)));
      if (ready.length === 0) {
        for (const op of pending) results.set(op.index, errorResult(op, conflict(`Operation ${op.index} is part of a circular bulkId reference and was not run`)));
        break;
      }
      for (const op of ready) {
        const unresolved = referencedBulkIds(op).filter((ref) => !createdIds.has(ref));
        try {
          if (unresolved.length > 0) throw invalidValue(`bulkId reference(s) ${unresolved.map((r) => `"${r}"`).join(', ')} do not name an operation that succeeded`);
          results.set(op.index, await runOne(op));
        } catch (error) {
          results.set(op.index, errorResult(op, toScimError(error, String(res.locals.requestId ?? ''))));
          errors += 1;
          if (failOnErrors !== undefined && errors >= failOnErrors) break outer;
        }
      }
      pending = pending.filter((op) => !results.has(op.index));
    }
    const ordered = operations.filter((op) => results.has(op.index)).map((op) => results.get(op.index)!);
    sendScim(res, 200, { schemas: [BULK_RESPONSE_SCHEMA], Operations: ordered });
  });
  router.all('/Bulk', refuseOtherMethods('POST'));
  return router;
}
