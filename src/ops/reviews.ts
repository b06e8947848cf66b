/**
 * Access reviews over HTTP (issue 17, decision 0610):
 *   GET  /ops/reviews                              (ops:read)  campaigns with progress; ?status=open|closed
 *   POST /ops/reviews                              (ops:write) open one: {"name", "scope": [...], "deadline",
 *                                                  "defaultDecision", "fallbackReviewer", "ledgerReviewer"?, "remindEveryHours"?}
 *   GET  /ops/reviews/{id}                         (ops:read)
 *   GET  /ops/reviews/{id}/items                   (ops:read)  ?reviewer=&decided=true|false&kind=&count=&cursor=
 *   POST /ops/reviews/{id}/items/{item}/decide     (ops:write) {"decision": "keep|revoke|shorten", "reason", "until"?}
 *   GET  /ops/reviews/{id}/report                  (ops:read)  JSON, or ?format=csv
 * A thin shell over src/governance/: refusals are SCIM errors with the governance layer's message.
 */
import express, { Router, type Request, type RequestHandler } from 'express';
import type { Knex } from 'knex';
import { decideItem } from '../governance/review-decide.js';
import { openCampaign } from '../governance/review-open.js';
import { campaignReport, reportCsv } from '../governance/review-report.js';
import { campaignById, listCampaigns, listItems, REVIEW_DECISIONS, REVIEW_SCOPES, reviewItem, type ReviewItemKind, type ReviewScope } from '../governance/review-store.js';
import { requireScope } from '../http/auth.js';
import { actorOf } from '../scim/routes/context.js';
import { invalidValue, notFound } from '../scim/errors.js';
import { activeConnectors } from '../sync/registry.js';
import type { WritePath } from '../write/write-path.js';
import { bodyString, governanceRefusals, oneOf, single, untilOf } from './request-params.js';

const KINDS: readonly ReviewItemKind[] = ['rule', 'exception', 'idp-membership', 'orphan', 'drift'];

function scopeOf(req: Request): ReviewScope[] {
  const scope = (req.body as Record<string, unknown>).scope;
  if (!Array.isArray(scope) || scope.some((s) => typeof s !== 'string')) throw invalidValue(`"scope" must be a list of any of ${REVIEW_SCOPES.join(', ')}`);
  return scope as ReviewScope[];
}

export function reviewsOpsRouter(db: Knex, writePath: WritePath, authenticated: RequestHandler[], limits: { defaultPageSize: number; maxPageSize: number; maxBodyBytes: number }): Router {
  const router = Router();
  const read = [...authenticated, requireScope('ops:read')];
  const act = [...authenticated, requireScope('ops:write'), express.json({ type: ['application/json', 'application/scim+json'], limit: limits.maxBodyBytes, strict: true })];
  const campaignOf = async (req: Request) => {
    const campaign = await campaignById(db, String(req.params.id));
    if (!campaign) throw notFound(`No review campaign ${String(req.params.id)}`);
    return campaign;
  };

  router.get('/ops/reviews', ...read, async (req, res) => {
    const status = oneOf(req, 'status', ['open', 'closed'] as const);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ campaigns: await listCampaigns(db, { status }) });
  });

  router.post('/ops/reviews', ...act, async (req, res) => {
    const deadline = untilOf(bodyString(req, 'deadline', true), 'deadline')!;
    const defaultDecision = bodyString(req, 'defaultDecision', true)!;
    if (defaultDecision !== 'keep' && defaultDecision !== 'revoke') throw invalidValue('"defaultDecision" must be keep or revoke: what undecided items become at the deadline');
    const remind = (req.body as Record<string, unknown>).remindEveryHours;
    if (remind !== undefined && typeof remind !== 'number') throw invalidValue('"remindEveryHours" must be a number');
    const campaign = await governanceRefusals(() =>
      openCampaign(writePath, {
        name: bodyString(req, 'name', true)!,
        scope: scopeOf(req),
        deadline,
        defaultDecision,
        fallbackReviewer: bodyString(req, 'fallbackReviewer', true)!,
        ledgerReviewer: bodyString(req, 'ledgerReviewer', false),
        remindEveryHours: remind,
        actor: actorOf(req, 'ops'),
      }),
    );
    res.status(201).json(campaign);
  });

  router.get('/ops/reviews/:id', ...read, async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await campaignOf(req));
  });

  router.get('/ops/reviews/:id/items', ...read, async (req, res) => {
    const campaign = await campaignOf(req);
    const countText = single(req, 'count');
    if (countText !== undefined && (!/^\d{1,6}$/.test(countText) || Number(countText) < 1)) throw invalidValue(`count must be a whole number from 1 to ${limits.maxPageSize}, not "${countText}"`);
    const cursor = single(req, 'cursor');
    if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) throw invalidValue(`cursor "${cursor}" is not one this API gave out`);
    const decided = oneOf(req, 'decided', ['true', 'false'] as const);
    const reviewer = single(req, 'reviewer');
    const page = await listItems(
      db,
      campaign.id,
      { reviewers: reviewer ? [reviewer] : undefined, decided: decided === undefined ? undefined : decided === 'true', kind: oneOf(req, 'kind', KINDS) },
      { after: cursor, limit: Math.min(countText === undefined ? limits.defaultPageSize : Number(countText), limits.maxPageSize) },
    );
    res.setHeader('Cache-Control', 'no-store');
    res.json({ items: page.items, count: page.items.length, nextCursor: page.next ?? null });
  });

  router.post('/ops/reviews/:id/items/:item/decide', ...act, async (req, res) => {
    const campaign = await campaignOf(req);
    const item = await reviewItem(db, String(req.params.item));
    if (!item || item.campaignId !== campaign.id) throw notFound(`Campaign ${campaign.id} has no item ${String(req.params.item)}`);
    const decision = bodyString(req, 'decision', true)!;
    if (!(REVIEW_DECISIONS as readonly string[]).includes(decision)) throw invalidValue(`"decision" must be one of ${REVIEW_DECISIONS.join(', ')}`);
    const decided = await governanceRefusals(() =>
      decideItem(writePath, activeConnectors(), item.id, { decision: decision as (typeof REVIEW_DECISIONS)[number], reason: bodyString(req, 'reason', true)!, until: untilOf(bodyString(req, 'until', false)), actor: actorOf(req, 'ops') }),
    );
    res.json(decided);
  });

  router.get('/ops/reviews/:id/report', ...read, async (req, res) => {
    const campaign = await campaignOf(req);
    const format = oneOf(req, 'format', ['json', 'csv'] as const) ?? 'json';
    const report = (await campaignReport(db, campaign.id))!;
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Disposition', `attachment; filename="review-${campaign.id}.${format}"`);
    if (format === 'csv') return res.type('text/csv').send(reportCsv(report));
    res.json(report);
  });
  return router;
}
