/** Express wiring: request id, security headers, body limits, auth, the SCIM surface, errors. */
import express, { type Express } from 'express';
import type { Knex } from 'knex';
import { Authenticator } from '../auth/authenticator.js';
import type { RosterConfig } from '../config/env.js';
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
import { requestId } from './request-id.js';
import { securityHeaders } from './security-headers.js';

export interface AppDependencies {
  db: Knex;
  writePath: WritePath;
  config: Pick<RosterConfig, 'bootstrapToken' | 'publicUrl' | 'maxBodyBytes' | 'defaultPageSize' | 'maxPageSize' | 'bulkMaxOperations'>;
}

export function createApp({ db, writePath, config }: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag'); // ETags are meta.version, set by the SCIM routes; not Express's body hash.
  app.set('query parser', 'simple');
  app.use(requestId, securityHeaders, accessLog);
  app.use(healthRouter(db));

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
  scim.use(express.json({ type: ['application/json', 'application/scim+json'], limit: config.maxBodyBytes, strict: false }));
  scim.use(authenticate(new Authenticator(db, config.bootstrapToken)));
  scim.use(resourceRouter('User', deps));
  scim.use(resourceRouter('Group', deps));
  scim.use(rootSearchRouter(deps));
  scim.use(bulkRouter(deps));
  scim.use(discoveryRouter(deps));
  // RFC 7644 §3.11: a provider without /Me answers 501; Roster's tokens name clients, not users.
  scim.all('/Me', (_req, _res, next) => next(new ScimError(501, undefined, '/Me is not supported: Roster tokens identify provisioning clients, not users')));
  scim.use((req, _res, next) => next(notFound(`No SCIM endpoint at ${req.method} ${SCIM_MOUNT}${req.path}`)));
  app.use(SCIM_MOUNT, scim);

  app.use((req, _res, next) => next(notFound(`No endpoint at ${req.method} ${req.path}`)));
  app.use(errorHandler);
  return app;
}
