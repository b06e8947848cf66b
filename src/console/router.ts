/**
 * The ops console at /console (docs/console.md): server-rendered pages over the same queries and
 * actions the CLI and the ops API use, behind sign-in, with a strict Content-Security-Policy.
 * The order of things for every console request is written here once:
 *   headers → static files → session → sign-in routes → sign-in required → form body and CSRF on
 *   POST → the page's permission → the page → console errors as HTML pages.
 */
import { fileURLToPath } from 'node:url';
import multer from 'multer';
import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import type { Knex } from 'knex';
import type { Authenticator } from '../auth/authenticator.js';
import type { RefusedCredentials } from '../auth/refused-credentials.js';
import { ledgerRecorder } from '../governance/ledger-store.js';
import type { ConsoleSettings } from '../config/console.js';
import { ColumnsError, defaultColumnsFile, parseColumns, readColumnsFile } from '../import/columns-file.js';
import { ImportGuardError, importHr, type ImportReport } from '../import/hr-import.js';
import { resourceExists } from '../journal/history.js';
import { leaverReceipt } from '../journal/leaver-receipt.js';
import { parseTime } from '../journal/time.js';
import { logger } from '../logging/logger.js';
import { streamJournalExport } from '../ops/journal-export.js';
import { applyPolicy, MassRevokeError } from '../policy/apply.js';
import { computePlan } from '../policy/plan.js';
import { parsePolicy, PolicyError, type Policy } from '../policy/policy-file.js';
import { approveGuardPause, retryParked, runFullSync } from '../sync/operator-actions.js';
import type { FullSyncReport } from '../sync/full-sync.js';
import type { WritePath } from '../write/write-path.js';
import { activeConnectors } from '../sync/registry.js';
import { registerGovernanceRoutes } from './governance-routes.js';
import { html, type Fragment, type Html } from './html.js';
import { notice, page } from './layout.js';
import { connectorBody, connectorsBody, fullSyncReport } from './pages/connectors.js';
import { groupBody, groupsBody } from './pages/groups.js';
import { entryBody, filterInput, journalBody, journalEntry, parseFilterInput } from './pages/journal.js';
import { overviewBody } from './pages/overview.js';
import { peopleBody, personBody } from './pages/people.js';
import { applyForm, importForm, reportBody } from './pages/hr-import.js';
import { AS_OF_HELP, asOfBody, asOfForm, receiptBody } from './pages/person-evidence.js';
import { planBody, policyBody, policySourceName } from './pages/policy.js';
import { verifyAndRecord, verifyBody } from './pages/verify.js';
import { may, type Permission } from './permissions.js';
import { ConsoleRefusal } from './refusal.js';
import { consoleActor, loadSession, personActorName, requireCsrf, requirePermission, requireSignIn, sessionOf, signedIn } from './sessions.js';
import { signInRouter } from './sign-in.js';
import { requestsConsoleRouter } from './requests-routes.js';
import { DEFAULT_REQUEST_SETTINGS, type RequestSettings } from '../config/notify.js';
import { saveUpload, sweepExpired, takeUpload, type Upload } from './session-store.js';
import { findTask, startTask, sweepTasks, type ConsoleTask, type TaskProgress } from './tasks.js';
import { RELOAD_SECONDS, taskBody, taskStatus } from './pages/task.js';

export const DEFAULT_CONSOLE_SETTINGS: ConsoleSettings = { oidc: undefined, tokenSignIn: true, idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 };

/** HTML from Roster's own origin only: no inline script or style, no framing, forms post here only. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const consoleHeaders: RequestHandler = (_req, res, next) => {
  res.locals.consoleStarted = process.hrtime.bigint();
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Referrer-Policy', 'same-origin');
  next();
};

const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SWEEP_EVERY_MS = 10 * 60_000;

export interface ConsoleOptions {
  db: Knex;
  /** The write path every change goes through (policy apply, HR import). */
  writePath: WritePath;
  /** ROSTER_JOURNAL_KEY, to check signed checkpoints when verifying. */
  journalKeySecret?: string | undefined;
  authenticator: Authenticator;
  settings: ConsoleSettings;
  publicUrl: string | undefined;
  /** The app's refused-credential limit and counting journal (decision 0420). */
  refusals: RefusedCredentials;
  /** Access requests' expiry (ROSTER_ACCESS_REQUEST_EXPIRY_DAYS). */
  requests?: RequestSettings | undefined;
  /** ROSTER_HR_COLUMNS_FILE: the HR import's columns file when none is uploaded. */
  hrColumnsFile?: string | undefined;
}

const param = (req: Request, name: string): string => String(req.params[name]);
const queryText = (req: Request, name: string): string | undefined => (typeof req.query[name] === 'string' ? req.query[name] : undefined);

export function consoleRouter({ db, writePath, journalKeySecret, authenticator, settings, publicUrl, refusals, requests, hrColumnsFile }: ConsoleOptions): Router {
  const columnsFile = defaultColumnsFile(hrColumnsFile);
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '64kb' });
  let lastSweep = 0;

  const send = (res: Response, title: string, section: string | undefined, body: Fragment, status = 200, reloadWithoutScript?: number) => {
    const text = page({ title, session: sessionOf(res), section, body, reloadWithoutScript }).text;
    res.setHeader('Server-Timing', serverTiming(res));
    res.status(status).type('html').send(text);
  };
  const can = (res: Response, permission: Permission) => may(signedIn(res).roles, permission);
  const read = requirePermission(db, 'read');
  // Form parsing and the CSRF check run for every console POST (below); operator actions add the role check.
  const operate = requirePermission(db, 'operate');

  router.use('/console', consoleHeaders);
  router.use('/console/static', express.static(STATIC_DIR, { index: false, fallthrough: false, setHeaders: (res) => res.setHeader('Cache-Control', 'public, max-age=3600') }));
  router.use('/console', loadSession(db, settings), (_req, _res, next) => {
    // Expired sessions are deleted as they are met; the sweep removes the ones never met again.
    if (Date.now() - lastSweep > SWEEP_EVERY_MS) {
      lastSweep = Date.now();
      void Promise.all([sweepExpired(db, settings), sweepTasks(db)]).catch((error: unknown) => logger.warn('console session sweep failed', { error: (error as Error).message }));
    }
    next();
  });
  router.use(signInRouter({ db, settings, authenticator, publicUrl, refusals }));
  router.use('/console', requireSignIn);
  // The HR upload is multipart: its body is read first, so the CSRF check below sees its token.
  router.post('/console/import/preview', readUpload);
  // A state-changing request without the CSRF token stops here, whatever it targets.
  router.post('/console/{*rest}', form, requireCsrf);

  // A person who may only request access (the requester role) starts on the Requests page.
  router.get('/console', (_req, res, next) => (can(res, 'read') ? next() : res.redirect(303, '/console/requests')));
  router.get('/console', read, async (_req, res) => send(res, 'Overview', '/console', await overviewBody(db)));

  router.get('/console/people', read, async (req, res) => {
    const { body, status } = await peopleBody(db, { q: queryText(req, 'q'), filter: queryText(req, 'filter'), cursor: queryText(req, 'cursor') });
    send(res, 'People', '/console/people', body, status);
  });
  router.get('/console/people/:id', read, async (req, res) => {
    const after = queryText(req, 'historyAfter');
    const person = UUID.test(param(req, 'id')) ? await personBody(db, param(req, 'id').toLowerCase(), after && /^\d{1,15}$/.test(after) ? Number(after) : undefined) : undefined;
    if (!person) throw new ConsoleRefusal(404, `No person with id ${param(req, 'id')}`);
    send(res, person.title, '/console/people', person.body);
  });

  router.get('/console/people/:id/as-of', read, async (req, res) => {
    const id = param(req, 'id').toLowerCase();
    if (!UUID.test(id) || !(await resourceExists(db, 'User', id))) throw new ConsoleRefusal(404, `No person with id ${param(req, 'id')}`);
    const asked = queryText(req, 'at') ?? '';
    const at = parseTime(asked);
    if (!at) return send(res, 'Access as of…', '/console/people', html`${asOfForm(id, asked)}${notice('error', AS_OF_HELP)}`, asked ? 400 : 200);
    send(res, `Access as of ${at.toISOString().slice(0, 16).replace('T', ' ')}`, '/console/people', await asOfBody(db, id, at, asked));
  });
  router.get('/console/people/:id/receipt', read, async (req, res) => {
    const id = param(req, 'id').toLowerCase();
    if (!UUID.test(id) || !(await resourceExists(db, 'User', id))) throw new ConsoleRefusal(404, `No person with id ${param(req, 'id')}`);
    const receipt = await leaverReceipt(db, id);
    if (queryText(req, 'format') === 'json') {
      res.setHeader('Content-Disposition', `attachment; filename="leaver-receipt-${id}.json"`);
      return res.json(receipt);
    }
    send(res, `Leaver receipt: ${receipt.user.userName ?? id}`, '/console/people', receiptBody(receipt));
  });

  router.get('/console/groups', read, async (req, res) => send(res, 'Groups', '/console/groups', await groupsBody(db, { q: queryText(req, 'q'), after: queryText(req, 'after') })));
  router.get('/console/groups/:id', read, async (req, res) => {
    const after = queryText(req, 'membersAfter');
    const group = UUID.test(param(req, 'id')) ? await groupBody(db, param(req, 'id').toLowerCase(), after && UUID.test(after) ? after.toLowerCase() : undefined) : undefined;
    if (!group) throw new ConsoleRefusal(404, `No group with id ${param(req, 'id')}`);
    send(res, group.title, '/console/groups', group.body);
  });

  router.get('/console/journal', read, async (req, res) => {
    const { body, status } = await journalBody(db, req.query, can(res, 'audit'));
    send(res, 'Journal', '/console/journal', body, status);
  });
  router.get('/console/journal/export', requirePermission(db, 'audit'), async (req, res) => {
    const filter = parseFilterInput(filterInput(req.query));
    if (typeof filter === 'string') throw new ConsoleRefusal(400, filter);
    const format = queryText(req, 'format') === 'ndjson' ? 'ndjson' : 'csv';
    await streamJournalExport(db, filter, format, res);
  });
  router.get('/console/journal/verify', read, async (_req, res) => send(res, 'Journal verification', '/console/journal', await verifyBody(db, signedIn(res), can(res, 'audit'))));
  router.post('/console/journal/verify', requirePermission(db, 'audit'), async (_req, res) => {
    await verifyAndRecord(db, consoleActor(res), journalKeySecret);
    res.redirect(303, '/console/journal/verify');
  });
  router.get('/console/journal/:id', read, async (req, res) => {
    const id = /^\d{1,15}$/.test(param(req, 'id')) ? Number(param(req, 'id')) : undefined;
    const row = id === undefined ? undefined : await journalEntry(db, id);
    if (!row) throw new ConsoleRefusal(404, `No journal entry ${param(req, 'id')}`);
    send(res, `Journal entry #${row.id}`, '/console/journal', entryBody(row));
  });

  router.get('/console/connectors', read, async (_req, res) => send(res, 'Connectors', '/console/connectors', await connectorsBody(db)));
  router.get('/console/connectors/:name', read, async (req, res) => {
    const body = await connectorBody(db, param(req, 'name'), signedIn(res), can(res, 'operate'), req.query);
    if (!body) throw new ConsoleRefusal(404, `No connector named ${param(req, 'name')}`);
    send(res, `Connector ${param(req, 'name')}`, '/console/connectors', body);
  });
  router.post('/console/connectors/:name/parked/:type/:id/retry', operate, async (req, res) => {
    const connector = activeConnectors().get(param(req, 'name'));
    const type = param(req, 'type');
    if (!connector || (type !== 'User' && type !== 'Group') || !UUID.test(param(req, 'id'))) throw new ConsoleRefusal(404, 'No such connector or parked object');
    const [outcome] = await retryParked(db, connector, consoleActor(res), param(req, 'id'));
    const done = outcome ? outcome.outcome : 'none';
    res.redirect(303, `/console/connectors/${encodeURIComponent(connector.name)}?done=${done}${outcome?.reason ? `&detail=${encodeURIComponent(outcome.reason)}` : ''}`);
  });
  router.post('/console/connectors/:name/sync', operate, async (req, res) => {
    const connector = activeConnectors().get(param(req, 'name'));
    if (!connector) throw new ConsoleRefusal(404, `No connector named ${param(req, 'name')}`);
    const reportOnly = (req.body as Record<string, unknown>).mode !== 'full';
    const actor = consoleActor(res);
    const task = await startTask(db, { kind: 'sync', title: `${reportOnly ? 'Drift report' : 'Full sync'}: ${connector.name}`, startedBy: signedIn(res).displayName, requestId: actor.requestId }, (onProgress) => {
      // The sync's first count comes once the target's first list is read: say what it is doing until then.
      onProgress({ phase: `reading ${connector.name}'s users and groups`, done: 0, total: 0 });
      return runFullSync(db, connector, actor, { reportOnly, findings: ledgerRecorder, onProgress });
    });
    res.redirect(303, `/console/tasks/${task}`);
  });
  router.post('/console/connectors/:name/approve', operate, async (req, res) => {
    const name = param(req, 'name');
    if (!activeConnectors().get(name)) throw new ConsoleRefusal(404, `No connector named ${name}`);
    const { wasPaused, woken } = await approveGuardPause(db, name, consoleActor(res));
    res.redirect(303, `/console/connectors/${encodeURIComponent(name)}?done=${wasPaused ? 'approved' : 'not-paused'}&detail=${woken}`);
  });

  /** The pasted policy, or its problems shown on the policy page (400). */
  const pastedPolicy = async (req: Request, res: Response): Promise<Policy | undefined> => {
    const body = req.body as Record<string, unknown>;
    const text = typeof body.policy === 'string' ? body.policy : '';
    try {
      return parsePolicy(text, await policySourceName(db));
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      send(res, 'Policy', '/console/policy', html`${notice('error', html`That file is not a valid policy:<ul>${error.problems.map((p) => html`<li>${p}</li>`)}</ul>`)}<p><a href="/console/policy">Back</a></p>`, 400);
      return undefined;
    }
  };
  router.get('/console/policy', read, async (req, res) => send(res, 'Policy', '/console/policy', await policyBody(db, signedIn(res), req.query)));
  router.post('/console/policy/plan', read, async (req, res) => {
    const policy = await pastedPolicy(req, res);
    if (!policy) return;
    send(res, `Plan for version ${policy.version}`, '/console/policy', planBody(signedIn(res), await computePlan(db, policy), policy.sourceText, can(res, 'operate')));
  });
  router.post('/console/policy/apply', operate, async (req, res) => {
    const policy = await pastedPolicy(req, res);
    if (!policy) return;
    const body = req.body as Record<string, unknown>;
    const reason = typeof body.reason === 'string' ? body.reason.trim().slice(0, 1000) : '';
    if (reason.length < 5) throw new ConsoleRefusal(400, 'Say why you apply this policy (at least a few words): the reason is kept in the journal');
    if (body.version !== policy.version) throw new ConsoleRefusal(400, 'The policy text changed after its plan was shown: preview it again');
    try {
      const result = await applyPolicy(writePath, policy, { actor: consoleActor(res), statedReason: reason });
      res.redirect(303, `/console/policy?applied=${policy.version}&users=${result.reconciled}`);
    } catch (error) {
      if (!(error instanceof MassRevokeError)) throw error;
      send(res, 'Not applied', '/console/policy', html`${notice('error', `The mass-revoke guard refused: ${error.plan.usersLosingAccess} of ${error.plan.totalUsers} users would lose access, more than the limit of ${error.limit}. Nothing was changed.`)}<p><a href="/console/policy">Back</a></p>`, 409);
    }
  });

  const importColumns = async (text: string | null) => {
    try {
      return text === null ? await readColumnsFile(columnsFile) : parseColumns(text, 'columns file');
    } catch (error) {
      if (error instanceof ColumnsError) throw new ConsoleRefusal(400, error.message);
      throw error;
    }
  };
  const importActor = (res: Response, fileName: string) => ({ name: `import:${fileName} (${personActorName(signedIn(res))})`, source: 'import' as const, requestId: String(res.locals.requestId) });
  const runImport = async (res: Response, upload: Omit<Upload, 'id'>, dryRun: boolean, onProgress?: (progress: TaskProgress) => void) => {
    try {
      return await importHr(writePath, upload.csvText, await importColumns(upload.columnsText), {
        actor: importActor(res, upload.fileName),
        dryRun,
        full: upload.full,
        ...(onProgress ? { onProgress: ({ done, total }: { done: number; total: number }) => onProgress({ phase: 'writing people', done, total }) } : {}),
      });
    } catch (error) {
      if (error instanceof ImportGuardError) throw new ConsoleRefusal(400, `${error.message} From the console: upload the complete export, or run the import with the CLI (npm run roster -- import) to use those options.`);
      if (error instanceof ColumnsError) throw new ConsoleRefusal(400, error.message);
      throw error;
    }
  };
  router.get('/console/import', read, (_req, res) => send(res, 'HR import', '/console/import', importForm(signedIn(res), columnsFile)));
  router.post('/console/import/preview', read, async (req, res) => {
    const files = (req.files ?? {}) as Record<string, Array<{ originalname: string; buffer: Buffer }> | undefined>;
    const csv = files.csv?.[0];
    if (!csv) throw new ConsoleRefusal(400, 'Choose the HR export (a CSV file) to import');
    const upload = { fileName: csv.originalname.replace(/[^\w .@()-]/g, '_').slice(0, 100) || 'upload.csv', csvText: csv.buffer.toString('utf8'), columnsText: files.columns?.[0]?.buffer.toString('utf8') ?? null, full: (req.body as Record<string, unknown>).full === 'on' };
    const report = await runImport(res, upload, true);
    const uploadId = await saveUpload(db, signedIn(res), upload);
    send(res, 'HR import: dry run', '/console/import', html`${reportBody(report, upload.fileName)}${applyForm(signedIn(res), uploadId, report, can(res, 'operate'))}`);
  });
  router.post('/console/import/apply', operate, async (req, res) => {
    const id = (req.body as Record<string, unknown>).upload;
    const upload = typeof id === 'string' ? await takeUpload(db, signedIn(res), id) : undefined;
    if (!upload) throw new ConsoleRefusal(400, 'That upload was already applied or is more than an hour old: upload the file again');
    const task = await startTask(db, { kind: 'import', title: `HR import: ${upload.fileName}`, startedBy: signedIn(res).displayName, requestId: String(res.locals.requestId) }, async (onProgress) => {
      onProgress({ phase: 'reading and checking the file', done: 0, total: 0 });
      return { fileName: upload.fileName, report: await runImport(res, upload, false, onProgress) };
    });
    res.redirect(303, `/console/tasks/${task}`);
  });

  const taskOf = async (req: Request) => {
    const task = /^[\w-]{20,100}$/.test(param(req, 'id')) ? await findTask(db, param(req, 'id')) : undefined;
    if (!task) throw new ConsoleRefusal(404, 'No such task (finished tasks are kept for 7 days)');
    return task;
  };
  router.get('/console/tasks/:id', read, async (req, res) => {
    const task = await taskOf(req);
    const section = task.kind === 'sync' ? '/console/connectors' : '/console/import';
    send(res, task.title, section, taskBody(task, (result) => taskReport(task, result)), 200, task.state === 'running' ? RELOAD_SECONDS : undefined);
  });
  router.get('/console/tasks/:id/status', read, async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(taskStatus(await taskOf(req)));
  });

  router.use(requestsConsoleRouter(db, writePath, requests ?? DEFAULT_REQUEST_SETTINGS));
  registerGovernanceRoutes(router, { db, writePath, send, read, operate });

  router.use('/console', (req, _res, next) => next(new ConsoleRefusal(404, `No console page at ${req.path}`)));
  router.use('/console', consoleErrors);
  return router;
}

/** A finished task's report, as the page showed it when these actions ran within the request. */
function taskReport(task: ConsoleTask, result: unknown): Html {
  if (task.kind === 'sync') return fullSyncReport(result as FullSyncReport);
  const { fileName, report } = result as { fileName: string; report: ImportReport };
  return html`${notice('ok', `Applied ${fileName}.`)}${reportBody(report, fileName)}`;
}

/**
 * Server time of a console page, from the router's first middleware to the rendered HTML (session
 * check, queries, rendering), as a Server-Timing header: the browser's developer tools show it,
 * and `npm run bench` reads it (bench/console.ts).
 */
function serverTiming(res: Response): string {
  const started = res.locals.consoleStarted as bigint | undefined;
  return started === undefined ? 'app' : `app;dur=${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)}`;
}

/** multipart/form-data bodies of the HR upload (in memory; an HR export of 100,000 people is about 15 MB). */
const uploadFields = multer({ storage: multer.memoryStorage(), limits: { fileSize: 64 * 1_048_576, files: 2, fields: 10 } }).fields([
  { name: 'csv', maxCount: 1 },
  { name: 'columns', maxCount: 1 },
]);
const readUpload: RequestHandler = (req, res, next) =>
  uploadFields(req, res, (error: unknown) => next(error instanceof multer.MulterError ? new ConsoleRefusal(400, `The upload could not be read: ${error.message}`) : error));

/** Console errors as pages: refusals with their message, anything else as a 500 naming the request id (logged, never shown). */
const consoleErrors: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  if (res.headersSent) return res.destroy();
  const refusal = error instanceof ConsoleRefusal ? error : undefined;
  const status = refusal?.status ?? (isClientError(error) ? 400 : 500);
  if (!refusal && status === 500) logger.error('console page failed', { requestId: res.locals.requestId, path: req.path, error: (error as Error).stack ?? String(error) });
  const message = refusal?.message ?? (status === 400 ? 'The request could not be read' : `Something went wrong on Roster's side; the log has the details under request id ${String(res.locals.requestId)}`);
  const title = status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : status === 401 ? 'Signed out' : status === 400 ? 'Bad request' : status === 409 ? 'Not done' : 'Error';
  const signInLink = status === 401 ? html`<p><a href="/console/sign-in">Sign in</a></p>` : '';
  res.status(status).type('html').send(page({ title, session: sessionOf(res), body: html`${notice('error', message)}${signInLink}` }).text);
};

function isClientError(error: unknown): boolean {
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status ?? (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}
