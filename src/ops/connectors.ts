/**
 * GET /ops/connectors (scope ops:read): the status of every outbound connector (src/sync/status.ts).
 */
import { Router, type RequestHandler } from 'express';
import type { Knex } from 'knex';
import { requireScope } from '../http/auth.js';
import { activeConnectors } from '../sync/registry.js';
import { connectorStatuses } from '../sync/status.js';

export function connectorsOpsRouter(db: Knex, authenticated: RequestHandler[]): Router {
  const router = Router();
  router.get('/ops/connectors', ...authenticated, requireScope('ops:read'), async (_req, res) => {
    res.status(200).json({ connectors: await connectorStatuses(db, activeConnectors()) });
  });
  return router;
}
