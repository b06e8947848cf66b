import { Router } from 'express';
import type { Knex } from 'knex';
import { migrationsAreCurrent } from '../db/knex.js';

/** /healthz: the process answers. /readyz: the database answers and every migration is applied. */
export function healthRouter(db: Knex): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await db.raw('SELECT 1');
      if (!(await migrationsAreCurrent(db))) {
        res.status(503).json({ status: 'unavailable', reason: 'database migrations are pending; run `npm run roster -- migrate`' });
        return;
      }
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
    }
  });
  return router;
}
