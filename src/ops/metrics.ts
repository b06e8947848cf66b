/**
 * GET /metrics in the Prometheus text format. Protected like the rest of the operator surface:
 * a bearer credential with the `ops:read` scope (docs/decisions/0351-metrics-need-ops-read.md).
 */
import { Router, type RequestHandler } from 'express';
import { requireScope } from '../http/auth.js';
import { metricsRegistry } from '../metrics/registry.js';

export function metricsRouter(authenticated: RequestHandler[]): Router {
  const router = Router();
  router.get('/metrics', ...authenticated, requireScope('ops:read'), async (_req, res) => {
    res.setHeader('Content-Type', metricsRegistry.contentType);
    res.end(await metricsRegistry.metrics());
  });
  return router;
}
