/**
 * Access requests over HTTP (issue 17, decision 0601), a thin shell over src/governance/requests.ts:
 *   GET  /ops/catalog                   (ops:read)  what can be requested, and who approves it
 *   GET  /ops/requests                  (ops:read)  filtered by status, entry, user; ?before= paging, newest first
 *   GET  /ops/requests/{id}             (ops:read)
 *   POST /ops/requests                  (ops:write) {"entry", "user", "justification"?, "days"? | "until"?}: on someone's behalf
 *   POST /ops/requests/{id}/approve     (ops:write) {"approver": "<userName>", "reason"}: records that approver's decision
 *   POST /ops/requests/{id}/deny        (ops:write) {"approver": "<userName>", "reason"}
 *   POST /ops/requests/{id}/withdraw    (ops:write) {"reason"?}: only by the token that filed it
 * The token is the journal actor; a token never decides a request it filed, whichever approver it names.
 */
import express, { Router, type Request, type RequestHandler } from 'express';
import type { Knex } from 'knex';
import type { RequestSettings } from '../config/notify.js';
import { REQUEST_STATUSES, accessRequest, listRequests, type RequestStatus } from '../governance/request-store.js';
import { createRequest, decideRequest, findUser, RequestError, withdrawRequest } from '../governance/requests.js';
import { requireScope } from '../http/auth.js';
import { appliedPolicy } from '../policy/policy-state.js';
import { actorOf } from '../scim/routes/context.js';
import { conflict, forbidden, invalidValue, notFound, type ScimError } from '../scim/errors.js';
import type { WritePath } from '../write/write-path.js';
import { bodyString, single, untilOf } from './request-params.js';

const KNOWN = new Set(['status', 'entry', 'user', 'count', 'before']);

const REQUEST_ERRORS: Record<RequestError['status'], (detail: string) => ScimError> = { 400: invalidValue, 403: forbidden, 404: notFound, 409: conflict };

async function refusalsAsScim<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RequestError) throw REQUEST_ERRORS[error.status](error.message);
    throw error;
  }
}

function requestId(req: Request): number {
  const text = String(req.params.id);
  if (!/^\d{1,15}$/.test(text)) throw notFound(`No access request ${text}`);
  return Number(text);
}

function daysOf(req: Request): number | undefined {
  const value = ((req.body ?? {}) as Record<string, unknown>).days;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidValue('"days" must be a whole number');
  return value;
}

export function requestsOpsRouter(db: Knex, writePath: WritePath, authenticated: RequestHandler[], settings: RequestSettings, limits: { defaultPageSize: number; maxPageSize: number; maxBodyBytes: number }): Router {
  const router = Router();
  const read = [...authenticated, requireScope('ops:read')];
  const act = [...authenticated, requireScope('ops:write'), express.json({ type: ['application/json', 'application/scim+json'], limit: limits.maxBodyBytes, strict: true })];

  router.get('/ops/catalog', ...read, async (_req, res) => {
    const policy = await appliedPolicy(db);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ policyVersion: policy?.version ?? null, entries: (policy?.catalog ?? []).map(({ requesters, ...entry }) => ({ ...entry, requesters: requesters?.when ?? null })) });
  });

  router.get('/ops/requests', ...read, async (req, res) => {
    const unknown = Object.keys(req.query).filter((k) => !KNOWN.has(k));
    if (unknown.length) throw invalidValue(`Unknown parameter ${unknown.join(', ')}; requests are filtered by ${[...KNOWN].join(', ')}`);
    const status = single(req, 'status');
    if (status !== undefined && !(REQUEST_STATUSES as readonly string[]).includes(status)) throw invalidValue(`status must be one of ${REQUEST_STATUSES.join(', ')}, not "${status}"`);
    const userText = single(req, 'user');
    const user = userText === undefined ? undefined : await findUser(db, userText);
    if (userText !== undefined && !user) throw notFound(`No user "${userText}"`);
    const countText = single(req, 'count');
    if (countText !== undefined && (!/^\d{1,6}$/.test(countText) || Number(countText) < 1)) throw invalidValue(`count must be a whole number from 1 to ${limits.maxPageSize}, not "${countText}"`);
    const before = single(req, 'before');
    if (before !== undefined && !/^\d{1,15}$/.test(before)) throw invalidValue(`before "${before}" is not a request id`);
    const page = await listRequests(db, { status: status as RequestStatus | undefined, entry: single(req, 'entry'), involving: user?.id }, { before: before === undefined ? undefined : Number(before), limit: Math.min(countText === undefined ? limits.defaultPageSize : Number(countText), limits.maxPageSize) });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ items: page.items, count: page.items.length, next: page.next ?? null });
  });

  router.get('/ops/requests/:id', ...read, async (req, res) => {
    const found = await accessRequest(db, requestId(req));
    if (!found) throw notFound(`No access request ${String(req.params.id)}`);
    res.setHeader('Cache-Control', 'no-store');
    res.json(found);
  });

  router.post('/ops/requests', ...act, async (req, res) => {
    const input = { entry: bodyString(req, 'entry', true)!, user: bodyString(req, 'user', true)!, justification: bodyString(req, 'justification', false), days: daysOf(req), until: untilOf(bodyString(req, 'until', false)) };
    const created = await refusalsAsScim(() => createRequest(writePath, input, { actor: actorOf(req, 'ops') }, { undecidedMs: settings.undecidedMs }));
    res.status(201).json(created);
  });

  for (const decision of ['approve', 'deny'] as const) {
    router.post(`/ops/requests/:id/${decision}`, ...act, async (req, res) => {
      const approverName = bodyString(req, 'approver', true)!;
      const reason = bodyString(req, 'reason', true)!;
      const approver = await findUser(db, approverName);
      if (!approver) throw notFound(`No user "${approverName}" to decide as (give the approver's userName)`);
      const decided = await refusalsAsScim(() => decideRequest(writePath, requestId(req), { decision, reason }, { actor: actorOf(req, 'ops'), userId: approver.id }));
      res.json(decided);
    });
  }

  router.post('/ops/requests/:id/withdraw', ...act, async (req, res) => {
    const withdrawn = await refusalsAsScim(() => withdrawRequest(writePath, requestId(req), { actor: actorOf(req, 'ops') }, bodyString(req, 'reason', false)));
    res.json(withdrawn);
  });
  return router;
}
