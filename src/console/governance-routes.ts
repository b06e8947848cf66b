/**
 * The console's governance pages (issue 17): access reviews and the orphan ledger. Registered by
 * router.ts after sign-in, form parsing and the CSRF check, so every POST here has a valid token.
 * Roles are checked here on the server: reading needs `read`; a decision needs the item's reviewer
 * (the signed-in subject is the reviewer's userName or externalId) or `operate`; opening a
 * campaign (openCampaign, as the CLI and POST /ops/reviews) and acting on the ledger need `operate`.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import type { Knex } from 'knex';
import { adoptOrphan, deprovisionOrphan, ignoreItem, LedgerError } from '../governance/ledger-actions.js';
import { decideItem } from '../governance/review-decide.js';
import { openCampaign, ReviewError } from '../governance/review-open.js';
import { campaignReport, reportCsv } from '../governance/review-report.js';
import { campaignById, listItems, REVIEW_DECISIONS, reviewerNamesOf, reviewItem, type ReviewDecision, type ReviewScope } from '../governance/review-store.js';
import { parseDateTime } from '../scim/filter/match.js';
import { activeConnectors } from '../sync/registry.js';
import type { WritePath } from '../write/write-path.js';
import type { Fragment } from './html.js';
import { ledgerBody } from './pages/ledger.js';
import { openCampaignForm, scopesOf } from './pages/review-open-form.js';
import { campaignBody, campaignsBody, reportBody, reviewerItemsBody } from './pages/reviews.js';
import { may } from './permissions.js';
import { ConsoleRefusal } from './refusal.js';
import { consoleActor, signedIn } from './sessions.js';

export interface GovernanceRouteOptions {
  db: Knex;
  writePath: WritePath;
  send: (res: Response, title: string, section: string | undefined, body: Fragment, status?: number) => void;
  read: RequestHandler;
  operate: RequestHandler;
}

const field = (req: Request, name: string): string => {
  const value = (req.body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value.trim().slice(0, 1000) : '';
};

function dateField(req: Request, name: string): Date | undefined {
  const text = field(req, name);
  if (!text) return undefined;
  const parsed = parseDateTime(text);
  if (!parsed) throw new ConsoleRefusal(400, `${name} must be a date such as 2027-03-31`);
  return new Date(parsed.epochMs);
}

/** The governance layer's refusal as a console page with its message. */
async function refusals<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ReviewError || error instanceof LedgerError) throw new ConsoleRefusal(error.status, error.message);
    throw error;
  }
}

export function registerGovernanceRoutes(router: Router, { db, writePath, send, read, operate }: GovernanceRouteOptions): void {
  const campaignOf = async (req: Request) => {
    const campaign = await campaignById(db, String(req.params.id));
    if (!campaign) throw new ConsoleRefusal(404, `No review campaign ${String(req.params.id)}`);
    return campaign;
  };
  const reviewersOf = (res: Response) => reviewerNamesOf(db, signedIn(res).subject);

  router.get('/console/reviews', read, async (_req, res) => {
    const session = signedIn(res);
    send(res, 'Access reviews', '/console/reviews', await campaignsBody(db, may(session.roles, 'operate') ? openCampaignForm(session) : undefined));
  });
  router.post('/console/reviews', operate, async (req, res) => {
    const deadline = dateField(req, 'deadline');
    if (!deadline) throw new ConsoleRefusal(400, 'Give the deadline, a date such as 2027-03-31');
    const defaultDecision = field(req, 'defaultDecision');
    if (defaultDecision !== 'keep' && defaultDecision !== 'revoke') throw new ConsoleRefusal(400, 'Choose whether undecided items are kept or revoked at the deadline');
    const campaign = await refusals(() =>
      openCampaign(writePath, {
        name: field(req, 'name'),
        scope: scopesOf((req.body as Record<string, unknown>).scope) as ReviewScope[],
        deadline,
        defaultDecision,
        fallbackReviewer: field(req, 'fallbackReviewer'),
        ledgerReviewer: field(req, 'ledgerReviewer') || undefined,
        actor: consoleActor(res),
      }),
    );
    res.redirect(303, `/console/reviews/${campaign.id}`);
  });
  router.get('/console/reviews/:id', read, async (req, res) => {
    const campaign = await campaignOf(req);
    const after = typeof req.query.after === 'string' ? req.query.after : undefined;
    const mine = await listItems(db, campaign.id, { reviewers: await reviewersOf(res), decided: false }, { limit: 10_000 });
    send(res, campaign.name, '/console/reviews', await campaignBody(db, campaign, after, mine.items.length));
  });
  router.get('/console/reviews/:id/review', read, async (req, res) => {
    const campaign = await campaignOf(req);
    // An operator may look at another reviewer's items (to decide for someone away); others see their own.
    const asked = typeof req.query.reviewer === 'string' && req.query.reviewer ? req.query.reviewer : undefined;
    const reviewers = asked && may(signedIn(res).roles, 'operate') ? [asked] : await reviewersOf(res);
    const done = typeof req.query.done === 'string' ? req.query.done.slice(0, 300) : undefined;
    send(res, `Your review: ${campaign.name}`, '/console/reviews', await reviewerItemsBody(db, signedIn(res), campaign, reviewers, done));
  });
  router.post('/console/reviews/:id/items/:item/decide', read, async (req, res) => {
    const campaign = await campaignOf(req);
    const item = await reviewItem(db, String(req.params.item));
    if (!item || item.campaignId !== campaign.id) throw new ConsoleRefusal(404, `Campaign ${campaign.id} has no item ${String(req.params.item)}`);
    const mine = (await reviewersOf(res)).some((name) => name.toLowerCase() === item.reviewer.toLowerCase());
    if (!mine && !may(signedIn(res).roles, 'operate')) throw new ConsoleRefusal(403, `This item is for ${item.reviewer} to decide (or an operator)`);
    const decision = field(req, 'decision');
    if (!(REVIEW_DECISIONS as readonly string[]).includes(decision)) throw new ConsoleRefusal(400, 'Choose keep, revoke or shorten');
    const decided = await refusals(() =>
      decideItem(writePath, activeConnectors(), item.id, { decision: decision as ReviewDecision, reason: field(req, 'reason'), until: dateField(req, 'until'), actor: consoleActor(res) }),
    );
    const back = mine ? '' : `&reviewer=${encodeURIComponent(item.reviewer)}`;
    res.redirect(303, `/console/reviews/${campaign.id}/review?done=${encodeURIComponent(`${decided.label}: ${decided.decision}. ${decided.outcome ?? ''}`)}${back}`);
  });
  router.get('/console/reviews/:id/report', read, async (req, res) => {
    const campaign = await campaignOf(req);
    const report = (await campaignReport(db, campaign.id))!;
    const format = req.query.format;
    if (format === 'csv' || format === 'json') {
      res.setHeader('Content-Disposition', `attachment; filename="review-${campaign.id}.${format}"`);
      return format === 'csv' ? res.type('text/csv').send(reportCsv(report)) : res.json(report);
    }
    send(res, `Report: ${campaign.name}`, '/console/reviews', reportBody(report));
  });

  router.get('/console/ledger', read, async (req, res) => send(res, 'Orphan ledger', '/console/ledger', await ledgerBody(db, signedIn(res), may(signedIn(res).roles, 'operate'), req.query)));
  const ledgerDone = (res: Response, text: string) => res.redirect(303, `/console/ledger?done=${encodeURIComponent(text)}`);
  router.post('/console/ledger/:id/adopt', operate, async (req, res) => {
    const user = field(req, 'user');
    if (!user) throw new ConsoleRefusal(400, 'Give the person (userName) the account belongs to');
    const { item } = await refusals(() => adoptOrphan(writePath, activeConnectors(), String(req.params.id), user, consoleActor(res)));
    ledgerDone(res, `Adopted ${item.name} on ${item.connector} as ${user}'s account.`);
  });
  router.post('/console/ledger/:id/disable', operate, async (req, res) => {
    const { item } = await refusals(() => deprovisionOrphan(writePath, activeConnectors(), String(req.params.id), 'disable', consoleActor(res)));
    ledgerDone(res, `Disabled ${item.name} on ${item.connector}.`);
  });
  router.post('/console/ledger/:id/ignore', operate, async (req, res) => {
    const item = await refusals(() => ignoreItem(writePath, String(req.params.id), { reason: field(req, 'reason'), until: dateField(req, 'until') }, consoleActor(res)));
    ledgerDone(res, `Ignored ${item.name} on ${item.connector} until ${item.ignoredUntil ?? ''}.`);
  });
}
