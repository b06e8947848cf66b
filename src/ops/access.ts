/**
 * GET /ops/users/{id}/access (scope ops:read): each group membership of a user with why it exists
 * (src/policy/explain.ts), for access reviews and "why does Alice have Finance Reporting?".
 */
import { Router, type RequestHandler } from 'express';
import type { Knex } from 'knex';
import { requireScope } from '../http/auth.js';
import { explainAccess } from '../policy/explain.js';
import { notFound } from '../scim/errors.js';

export function accessRouter(db: Knex, authenticated: RequestHandler[]): Router {
  const router = Router();
  router.get('/ops/users/:id/access', ...authenticated, requireScope('ops:read'), async (req, res) => {
    const explanation = await explainAccess(db, String(req.params.id));
    if (!explanation) throw notFound(`User ${String(req.params.id)} not found`);
    res.status(200).json(explanation);
  });
  return router;
}
