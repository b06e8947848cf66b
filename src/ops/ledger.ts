/**
 * The ledger of orphaned and drifting downstream accounts over HTTP (issue 17, decision 0600):
 *   GET  /ops/ledger                    (ops:read)  filtered by connector, kind, type, status, name; id-cursor paging
 *   GET  /ops/ledger/{id}               (ops:read)
 *   POST /ops/ledger/{id}/adopt         (ops:write) {"user": "<userName or id>"}
 *   POST /ops/ledger/{id}/disable       (ops:write) {"reason"?: "…"}
 *   POST /ops/ledger/{id}/delete        (ops:write) {"reason"?: "…"}
 *   POST /ops/ledger/{id}/ignore        (ops:write) {"reason": "…", "until"?: "2027-03-31"}
 * A thin shell over src/governance/: refusals are SCIM errors with the governance layer's message.
 */
import express, { Router, type Request, type RequestHandler } from 'express';
import type { Knex } from 'knex';
import { LEDGER_KINDS, LEDGER_STATUSES, ledgerItem, listLedger, type LedgerFilter, type LedgerKind, type LedgerStatus } from '../governance/ledger-store.js';
import { adoptOrphan, deprovisionOrphan, ignoreItem } from '../governance/ledger-actions.js';
import { requireScope } from '../http/auth.js';
import { actorOf } from '../scim/routes/context.js';
import { invalidValue, notFound } from '../scim/errors.js';
import { activeConnectors } from '../sync/registry.js';
import type { WritePath } from '../write/write-path.js';
import { bodyString, governanceRefusals, oneOf, single, untilOf } from './request-params.js';

const KNOWN = new Set(['connector', 'kind', 'type', 'status', 'name', 'count', 'cursor']);

function filterOf(req: Request): LedgerFilter {
  const unknown = Object.keys(req.query).filter((k) => !KNOWN.has(k));
  if (unknown.length) throw invalidValue(`Unknown parameter ${unknown.join(', ')}; the ledger is filtered by ${[...KNOWN].join(', ')}`);
  return {
    connector: single(req, 'connector'),
    kind: oneOf<LedgerKind>(req, 'kind', LEDGER_KINDS),
    resourceType: oneOf(req, 'type', ['User', 'Group'] as const),
    status: oneOf<LedgerStatus>(req, 'status', LEDGER_STATUSES),
    name: single(req, 'name'),
  };
}

export function ledgerOpsRouter(db: Knex, writePath: WritePath, authenticated: RequestHandler[], limits: { defaultPageSize: number; maxPageSize: number; maxBodyBytes: number }): Router {
  const router = Router();
  const read = [...authenticated, requireScope('ops:read')];
  const act = [...authenticated, requireScope('ops:write'), express.json({ type: ['application/json', 'application/scim+json'], limit: limits.maxBodyBytes, strict: true })];

  router.get('/ops/ledger', ...read, async (req, res) => {
    const filter = filterOf(req);
    const countText = single(req, 'count');
    if (countText !== undefined && (!/^\d{1,6}$/.test(countText) || Number(countText) < 1)) throw invalidValue(`count must be a whole number from 1 to ${limits.maxPageSize}, not "${countText}"`);
    const cursor = single(req, 'cursor');
    if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) throw invalidValue(`cursor "${cursor}" is not one this API gave out`);
    const limit = Math.min(countText === undefined ? limits.defaultPageSize : Number(countText), limits.maxPageSize);
    const page = await listLedger(db, filter, { after: cursor, limit });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ items: page.items, count: page.items.length, nextCursor: page.next ?? null });
  });

  router.get('/ops/ledger/:id', ...read, async (req, res) => {
    const item = await ledgerItem(db, String(req.params.id));
    if (!item) throw notFound(`No ledger item ${String(req.params.id)}`);
    res.setHeader('Cache-Control', 'no-store');
    res.json(item);
  });

  router.post('/ops/ledger/:id/adopt', ...act, async (req, res) => {
    const user = bodyString(req, 'user', true)!;
    const outcome = await governanceRefusals(() => adoptOrphan(writePath, activeConnectors(), String(req.params.id), user, actorOf(req, 'ops')));
    res.json({ item: outcome.item, userId: outcome.userId, sync: outcome.result.kind });
  });

  for (const how of ['disable', 'delete'] as const) {
    router.post(`/ops/ledger/:id/${how}`, ...act, async (req, res) => {
      const reason = bodyString(req, 'reason', false);
      const outcome = await governanceRefusals(() => deprovisionOrphan(writePath, activeConnectors(), String(req.params.id), how, actorOf(req, 'ops'), reason));
      res.json({ item: outcome.item });
    });
  }

  router.post('/ops/ledger/:id/ignore', ...act, async (req, res) => {
    const reason = bodyString(req, 'reason', true)!;
    const until = untilOf(bodyString(req, 'until', false));
    const item = await governanceRefusals(() => ignoreItem(writePath, String(req.params.id), { reason, until }, actorOf(req, 'ops')));
    res.json({ item });
  });
  return router;
}
