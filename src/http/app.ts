/** Express wiring: request id, security headers, body limits, auth, the SCIM surface, errors. */
import express, { type Express } from 'express';
import type { Knex } from 'knex';
import { Authenticator } from '../auth/authenticator.js';
import { ExternalJwtVerifier } from '../auth/external-jwt.js';
import { journalAuthFailures } from '../auth/failure-journal.js';
import type { RosterConfig } from '../config/env.js';
import { httpMetrics } from '../metrics/http-metrics.js';
import { metricsRouter } from '../ops/metrics.js';
import { trackPool } from '../metrics/pool-metrics.js';
import { countScimErrors } from './scim-error-metrics.js';
import { createRosterOAuth } from '../oauth/oauth.js';
import { accessRouter } from '../ops/access.js';
import { connectorsOpsRouter } from '../ops/connectors.js';
import { journalOpsRouter } from '../ops/journal-routes.js';
import { ledgerOpsRouter } from '../ops/ledger.js';
import { healthRouter } from '../ops/health.js';
import { notFound, ScimError } from '../scim/errors.js';
import { bulkRouter } from '../scim/routes/bulk.js';
import { SCIM_MOUNT, type ScimDependencies } from '../scim/routes/context.js';
import { discoveryRouter } from '../scim/routes/discovery.js';
import { resourceRouter } from '../scim/routes/resources.js';
import { rootSearchRouter } from '../scim/routes/root-search.js';
import type { WritePath } from '../write/write-path.js';
import { accessLog } from './access-log.js';
import { authenticate } from './auth.js';
import { errorHandler } from './errors.js';
import { rateLimit } from './rate-limit.js';
import { requestId } from './request-id.js';
import { securityHeaders } from './security-headers.js';

const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'DELETE']);

export interface AppDependencies {
  db: Knex;
  writePath: WritePath;
  config: Pick<RosterConfig, 'bootstrapToken' | 'publicUrl' | 'maxBodyBytes' | 'defaultPageSize' | 'maxPageSize' | 'bulkMaxOperations'> &
    Partial<Pick<RosterConfig, 'jwt' | 'oauth' | 'rateLimit'>>;
}

export function createApp({ db, writePath, config }: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag'); // ETags are meta.version, set by the SCIM routes; not Express's body hash.
  app.set('query parser', 'simple');
  app.use(requestId, securityHeaders, accessLog, httpMetrics);
  app.use(healthRouter(db));
  trackPool(db);

  // One authenticator for every route group: static tokens, Roster's OAuth tokens, external JWTs;
  // then the per-credential rate limit. Protected routers use `authenticated` first.
  const oauth = createRosterOAuth(db, config.publicUrl, config.oauth);
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
  };
  const scim = express.Router();
  const parseJson = express.json({ type: ['application/json', 'application/scim+json'], limit: config.maxBodyBytes, strict: false });
  // GET, HEAD and DELETE carry no body in SCIM (a GET body has no meaning, RFC 9110 §9.3.1): they
  // skip the parser, which would otherwise read an empty body for clients that send Content-Length: 0.
  scim.use((req, res, next) => (BODYLESS_METHODS.has(req.method) ? next() : parseJson(req, res, next)));
  scim.use(...authenticated);
  scim.use(resourceRouter('User', deps));
  scim.use(resourceRouter('Group', deps));
  scim.use(rootSearchRouter(deps));
  scim.use(bulkRouter(deps));
  scim.use(discoveryRouter(deps));
  // RFC 7644 §3.11: a provider without /Me answers 501; Roster's tokens name clients, not users.
  scim.all('/Me', (_req, _res, next) => next(new ScimError(501, undefined, '/Me is not supported: Roster tokens identify provisioning clients, not users')));
  scim.use((req, _res, next) => next(notFound(`No SCIM endpoint at ${req.method} ${SCIM_MOUNT}${req.path}`)));
  // The SCIM surface is mounted before the OAuth and ops routers: it takes nearly all the traffic,
  // and every router mounted ahead of it is one more layer each SCIM request is matched against.
  app.use(SCIM_MOUNT, scim);
  app.use(oauth.router);
  app.use(metricsRouter(authenticated));
  app.use(accessRouter(db, authenticated));
  app.use(connectorsOpsRouter(db, authenticated));
  app.use(ledgerOpsRouter(db, writePath, authenticated, { defaultPageSize: config.defaultPageSize, maxPageSize: config.maxPageSize, maxBodyBytes: config.maxBodyBytes }));
  app.use(journalOpsRouter({ db, authenticated, defaultPageSize: config.defaultPageSize, maxPageSize: config.maxPageSize }));

  app.use((req, _res, next) => next(notFound(`No endpoint at ${req.method} ${req.path}`)));
  app.use(journalAuthFailures(db), countScimErrors, errorHandler);
  return app;
}
