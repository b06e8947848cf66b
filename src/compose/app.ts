/**
 * The composition root's HTTP app: request id, security headers, body limits, auth, the SCIM
 * surface, the /ops API, the console, errors, in that order.
 */
import express, { type Express } from 'express';
import type { Knex } from 'knex';
import { Authenticator } from '../auth/authenticator.js';
import { ExternalJwtVerifier } from '../auth/external-jwt.js';
import { journalAuthFailures } from '../auth/failure-journal.js';
import { refusedCredentials, type RefusedCredentials } from '../auth/refused-credentials.js';
import type { RosterConfig } from '../config/env.js';
import type { SecretBox } from '../lib/secret-box.js';
import { httpMetrics } from '../metrics/http-metrics.js';
import { metricsRouter } from '../ops/metrics.js';
import { trackPool } from '../metrics/pool-metrics.js';
import { countScimErrors } from '../http/scim-error-metrics.js';
import { createRosterOAuth } from '../oauth/oauth.js';
import { accessRouter } from '../ops/access.js';
import { connectorsOpsRouter } from '../ops/connectors.js';
import { journalOpsRouter } from '../ops/journal-routes.js';
import { consoleRouter, DEFAULT_CONSOLE_SETTINGS } from '../console/router.js';
import { ledgerOpsRouter } from '../ops/ledger.js';
import { requestsOpsRouter } from '../ops/requests.js';
import { DEFAULT_REQUEST_SETTINGS } from '../config/notify.js';
import { reviewsOpsRouter } from '../ops/reviews.js';
import { healthRouter } from '../ops/health.js';
import { notFound, notImplemented } from '../scim/errors.js';
import { bulkRouter } from '../scim/routes/bulk.js';
import { SCIM_MOUNT, type ScimDependencies } from '../scim/routes/context.js';
import { discoveryRouter } from '../scim/routes/discovery.js';
import { resourceRouter } from '../scim/routes/resources.js';
import { rootSearchRouter } from '../scim/routes/root-search.js';
import type { WritePath } from '../write/write-path.js';
import { accessLog } from '../http/access-log.js';
import { authenticate } from '../http/auth.js';
import { errorHandler } from '../http/errors.js';
import { checkRequestLine, DEFAULT_MAX_JSON_DEPTH, jsonBody } from '../http/input-rules.js';
import { rateLimit } from '../http/rate-limit.js';
import { requestId } from '../http/request-id.js';
import { securityHeaders } from '../http/security-headers.js';

export interface AppDependencies {
  db: Knex;
  writePath: WritePath;
  config: Pick<RosterConfig, 'bootstrapToken' | 'publicUrl' | 'maxBodyBytes' | 'defaultPageSize' | 'maxPageSize' | 'bulkMaxOperations'> &
    Partial<Pick<RosterConfig, 'jwt' | 'oauth' | 'rateLimit' | 'maxJsonDepth' | 'authFailures' | 'trustProxy' | 'console' | 'journal' | 'requests' | 'hrColumnsFile'>>;
  /** The refused-credential limit and journal; made from config.authFailures when not given (the caller flushes it at shutdown). */
  refusals?: RefusedCredentials;
  /** Seals stored secrets (OAuth signing keys); undefined stores them in plain text. */
  secrets?: SecretBox | undefined;
}

export function createApp({ db, writePath, config, refusals = refusedCredentials(db, config.authFailures), secrets }: AppDependencies): Express {
  const app = express();
  // Which address a request comes from (req.ip), for the refused-credential limit: ROSTER_TRUST_PROXY.
  app.set('trust proxy', config.trustProxy ?? false);
  app.disable('x-powered-by');
  app.disable('etag'); // ETags are meta.version, set by the SCIM routes; not Express's body hash.
  app.set('query parser', 'simple');
  app.use(requestId, securityHeaders, accessLog, httpMetrics);
  // Path and query strings are checked once, before any router decodes or uses them.
  app.use(checkRequestLine);
  app.use(healthRouter(db));
  trackPool(db);

  // One authenticator for every route group: static tokens, Roster's OAuth tokens, external JWTs;
  // then the per-credential rate limit. Protected routers use `authenticated` first.
  const oauth = createRosterOAuth(db, config.publicUrl, refusals, config.oauth, secrets);
  const authenticator = new Authenticator(db, config.bootstrapToken, { rosterTokens: oauth.tokens, externalJwt: config.jwt ? new ExternalJwtVerifier(config.jwt) : undefined });
  const authenticated = [authenticate(authenticator), rateLimit(db, config.rateLimit)];
  const deps: ScimDependencies = {
    db,
    writePath,
    publicUrl: config.publicUrl,
    limits: {
      defaultPageSize: config.defaultPageSize,
      maxPageSize: config.maxPageSize,
      bulkMaxOperations: config.bulkMaxOperations,
      maxBodyBytes: config.maxBodyBytes,
    },
    // Each route that takes a body parses it after its method and path matched (input-rules.ts):
    // GET, HEAD and DELETE never read one, and a POST to a read-only endpoint is a 405 whatever it carries.
    readBody: jsonBody({ maxBodyBytes: config.maxBodyBytes, maxJsonDepth: config.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH }),
  };
  const scim = express.Router();
  scim.use(...authenticated);
  scim.use(resourceRouter('User', deps));
  scim.use(resourceRouter('Group', deps));
  scim.use(rootSearchRouter(deps));
  scim.use(bulkRouter(deps));
  scim.use(discoveryRouter(deps));
  // RFC 7644 §3.11: a provider without /Me answers 501; Roster's tokens name clients, not users.
  scim.all('/Me', (_req, _res, next) => next(notImplemented('/Me is not supported: Roster tokens identify provisioning clients, not users')));
  scim.use((req, _res, next) => next(notFound(`No SCIM endpoint at ${req.method} ${SCIM_MOUNT}${req.path}`)));
  // The SCIM surface is mounted before the OAuth and ops routers: it takes nearly all the traffic,
  // and every router mounted ahead of it is one more layer each SCIM request is matched against.
  app.use(SCIM_MOUNT, scim);
  app.use(oauth.router);
  app.use(metricsRouter(authenticated));
  app.use(accessRouter(db, authenticated));
  app.use(connectorsOpsRouter(db, authenticated));
  app.use(ledgerOpsRouter(db, writePath, authenticated, { defaultPageSize: config.defaultPageSize, maxPageSize: config.maxPageSize, maxBodyBytes: config.maxBodyBytes }));
  app.use(requestsOpsRouter(db, writePath, authenticated, config.requests ?? DEFAULT_REQUEST_SETTINGS, { defaultPageSize: config.defaultPageSize, maxPageSize: config.maxPageSize, maxBodyBytes: config.maxBodyBytes }));
  app.use(reviewsOpsRouter(db, writePath, authenticated, { defaultPageSize: config.defaultPageSize, maxPageSize: config.maxPageSize, maxBodyBytes: config.maxBodyBytes }));
  app.use(journalOpsRouter({ db, authenticated, defaultPageSize: config.defaultPageSize, maxPageSize: config.maxPageSize }));
  // The ops console: HTML pages with their own sign-in, sessions, CSRF checks and error pages.
  app.use(
    consoleRouter({
      db,
      writePath,
      journalKeySecret: config.journal?.keySecret,
      authenticator,
      settings: config.console ?? DEFAULT_CONSOLE_SETTINGS,
      publicUrl: config.publicUrl,
      refusals,
      requests: config.requests,
      hrColumnsFile: config.hrColumnsFile,
    }),
  );

  app.use((req, _res, next) => next(notFound(`No endpoint at ${req.method} ${req.path}`)));
  app.use(journalAuthFailures(refusals.journal, refusals.limiter), countScimErrors, errorHandler);
  return app;
}
