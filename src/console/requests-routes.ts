/**
 * The console's Requests routes (issue 17), mounted by router.ts behind sign-in, the form body and
 * the CSRF check. Every signed-in role has the `request` permission; who may decide a request is
 * the catalog's rule, checked by src/governance/requests.ts on the person, not on the console role.
 *   GET  /console/requests                  the page (pages/requests.ts); with `read`, every request below
 *                                           it, ?status= and ?before= paging (pages/requests-all.ts)
 *   GET  /console/requests/{id}             (read) one request with its decisions
 *   POST /console/requests                  request access for oneself
 *   POST /console/requests/on-behalf        (operate) file a request for someone, as the CLI and
 *                                           POST /ops/requests do, journaled with the console actor
 *   POST /console/requests/{id}/decide      approve or deny the next stage, with a reason
 *   POST /console/requests/{id}/withdraw    take back one's own pending request
 */
import { Router, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import type { RequestSettings } from '../config/notify.js';
import { accessRequest } from '../governance/request-store.js';
import { createRequest, decideRequest, RequestError, withdrawRequest, type Party } from '../governance/requests.js';
import type { WritePath } from '../write/write-path.js';
import { page } from './layout.js';
import { personUser, requestsBody } from './pages/requests.js';
import { allRequestsQueryOf, requestDetailBody, staffSections } from './pages/requests-all.js';
import { may } from './permissions.js';
import { ConsoleRefusal } from './refusal.js';
import { consoleActor, requirePermission, sessionOf, signedIn } from './sessions.js';

const DONE: Record<string, string> = { requested: 'Request #{id} is filed; its approvers are told.', approve: 'You approved request #{id}.', deny: 'You denied request #{id}.', withdrawn: 'Request #{id} is withdrawn.' };

const field = (req: Request, name: string): string => {
  const value = (req.body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value.slice(0, 1000) : '';
};

function requestNumber(req: Request): number {
  const text = String(req.params.id);
  if (!/^\d{1,15}$/.test(text)) throw new ConsoleRefusal(404, `No access request ${text}`);
  return Number(text);
}

/** A refused step as a console page with the governance layer's message (it says what to do). */
/** The form's days: a whole number, or none for the longest the entry allows. */
function daysOf(req: Request): number | undefined {
  const daysText = field(req, 'days').trim();
  if (daysText && !/^\d{1,4}$/.test(daysText)) throw new ConsoleRefusal(400, 'Days must be a whole number, or empty for the longest the entry allows');
  return daysText ? Number(daysText) : undefined;
}

async function refusalsAsPages<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RequestError) throw new ConsoleRefusal(error.status, error.message);
    throw error;
  }
}

export function requestsConsoleRouter(db: Knex, writePath: WritePath, settings: RequestSettings): Router {
  const router = Router();
  const allowed = requirePermission(db, 'request');

  /** The signed-in person as a party to a request; refused when they are nobody in Roster. */
  const party = async (res: Response): Promise<Party> => {
    const user = await personUser(db, signedIn(res));
    if (!user) throw new ConsoleRefusal(403, 'Your sign-in is not linked to a person in Roster, so you cannot request or decide access here');
    return { actor: consoleActor(res), userId: user.id };
  };
  const backTo = (res: Response, done: string, id: number, anchor = 'request') => res.redirect(303, `/console/requests?done=${done}&id=${id}#${anchor}-${id}`);

  router.get('/console/requests', allowed, async (req, res) => {
    const done = typeof req.query.done === 'string' ? DONE[req.query.done] : undefined;
    const id = typeof req.query.id === 'string' && /^\d{1,15}$/.test(req.query.id) ? req.query.id : '';
    const session = signedIn(res);
    const staff = may(session.roles, 'read') ? await staffSections(db, session, may(session.roles, 'operate'), allRequestsQueryOf(req.query)) : undefined;
    const body = await requestsBody(db, session, done && id ? done.replace('{id}', id) : undefined, staff);
    res.type('html').send(page({ title: 'Requests', session: sessionOf(res), section: '/console/requests', body }).text);
  });

  router.get('/console/requests/:id', requirePermission(db, 'read'), async (req, res) => {
    const found = await accessRequest(db, requestNumber(req));
    if (!found) throw new ConsoleRefusal(404, `No access request ${String(req.params.id)}`);
    const body = requestDetailBody(found);
    res.type('html').send(page({ title: `Request #${found.id}: ${found.entry} for ${found.user.userName}`, session: sessionOf(res), section: '/console/requests', body }).text);
  });

  // The same createRequest as POST /ops/requests and `roster request create`: the signed-in operator
  // is the journal actor, and (when linked to a person) can then never decide what they filed.
  router.post('/console/requests/on-behalf', requirePermission(db, 'operate'), async (req, res) => {
    const user = field(req, 'user').trim();
    if (!user) throw new ConsoleRefusal(400, "Give the userName of the person the access is for");
    const filer = await personUser(db, signedIn(res));
    const input = { entry: field(req, 'entry'), user, justification: field(req, 'justification'), days: daysOf(req) };
    const created = await refusalsAsPages(() => createRequest(writePath, input, { actor: consoleActor(res), userId: filer?.id }, { undecidedMs: settings.undecidedMs }));
    backTo(res, 'requested', created.id, 'all-request');
  });

  router.post('/console/requests', allowed, async (req, res) => {
    const me = await party(res);
    const input = { entry: field(req, 'entry'), user: me.userId!, justification: field(req, 'justification'), days: daysOf(req) };
    const created = await refusalsAsPages(() => createRequest(writePath, input, me, { undecidedMs: settings.undecidedMs }));
    backTo(res, 'requested', created.id);
  });

  router.post('/console/requests/:id/decide', allowed, async (req, res) => {
    const decision = field(req, 'decision');
    if (decision !== 'approve' && decision !== 'deny') throw new ConsoleRefusal(400, 'Choose Approve or Deny');
    const id = requestNumber(req);
    await refusalsAsPages(async () => decideRequest(writePath, id, { decision, reason: field(req, 'reason') }, await party(res)));
    backTo(res, decision, id);
  });

  router.post('/console/requests/:id/withdraw', allowed, async (req, res) => {
    const id = requestNumber(req);
    await refusalsAsPages(async () => withdrawRequest(writePath, id, await party(res)));
    backTo(res, 'withdrawn', id);
  });
  return router;
}
