/**
 * /Users and /Groups (RFC 7644 §3.3–3.6), served by Roster itself rather than scimmy-routers:
 * see docs/decisions/0001-own-resource-endpoints.md for the defects this avoids.
 */
import { Router, type Request, type Response } from 'express';
import { requireScope } from '../../http/auth.js';
import { sendScim } from '../../http/scim-response.js';
import type { ReadRow, ResourceRow } from '../../store/rows.js';
import { readResource, readUserGroups } from '../../store/resource-store.js';
import { refuseOtherMethods } from './method-not-allowed.js';
import { notFound } from '../errors.js';
import { etagOf, ifNoneMatchHits } from '../etag.js';
import { listResources, readsGroups, renderRows } from '../list.js';
import { readListQuery, searchRequestOf } from '../list-query.js';
import { OPERATIONS } from '../operations.js';
import { keepsWholeDocument, parseSelection, type Selection } from '../projection.js';
import { resourceLocation, ENDPOINT_BY_TYPE } from '../render.js';
import type { ResourceTypeName } from '../schema/urns.js';
import { actorOf, baseUrlOf, type ScimDependencies } from './context.js';

const idParam = (req: Request): string => String(req.params.id);
const queryText = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export function resourceRouter(type: ResourceTypeName, deps: ScimDependencies): Router {
  const router = Router();
  const read = requireScope('scim:read');
  const write = requireScope('scim:write');
  const operations = OPERATIONS[type];
  const path = `/${ENDPOINT_BY_TYPE[type]}`;

  const selectionOf = (req: Request) => parseSelection(type, queryText(req.query.attributes), queryText(req.query.excludedAttributes));

  async function respond(req: Request, res: Response, row: ReadRow, selection: Selection, status: number): Promise<void> {
    const [body] = await renderRows(deps.db, type, [row], selection, baseUrlOf(req, deps.publicUrl));
    res.setHeader('ETag', etagOf(row.version));
    sendScim(res, status, body);
  }

  /** The answer to a write: the row comes from the write path, the user's groups are read here. */
  async function respondWithResource(req: Request, res: Response, row: ResourceRow, status: number): Promise<void> {
    const selection = selectionOf(req);
    const groups = readsGroups(type, selection) ? { groups: await readUserGroups(deps.db, row.id) } : {};
    await respond(req, res, { ...row, ...groups }, selection, status);
  }

  router.get(path, read, async (req, res) => {
    const query = readListQuery(req.query as Record<string, unknown>, deps.limits);
    sendScim(res, 200, await listResources(deps.db, type, query, baseUrlOf(req, deps.publicUrl)));
  });

  router.post(`${path}/.search`, read, deps.readBody, async (req, res) => {
    const query = readListQuery(searchRequestOf(req.body), deps.limits);
    sendScim(res, 200, await listResources(deps.db, type, query, baseUrlOf(req, deps.publicUrl)));
  });

  router.post(path, write, deps.readBody, async (req, res) => {
    const row = await deps.writePath.runShared(actorOf(req, 'scim'), (context) => operations.create(context, req.body));
    res.setHeader('Location', resourceLocation(baseUrlOf(req, deps.publicUrl), type, row.id));
    await respondWithResource(req, res, row, 201);
  });

  router.get(`${path}/:id`, read, async (req, res) => {
    const selection = selectionOf(req);
    const row = await readResource(deps.db, type, idParam(req), { withGroups: readsGroups(type, selection), documentAsText: keepsWholeDocument(selection) });
    if (!row) throw notFound(`${type} ${req.params.id} not found`);
    if (ifNoneMatchHits(req.get('if-none-match'), row.version)) {
      res.setHeader('ETag', etagOf(row.version));
      res.status(304).end();
      return;
    }
    await respond(req, res, row, selection, 200);
  });

  router.put(`${path}/:id`, write, deps.readBody, async (req, res) => {
    const { row } = await deps.writePath.runShared(actorOf(req, 'scim'), (context) =>
      operations.replace(context, idParam(req), req.body, { ifMatch: req.get('if-match') }),
    );
    await respondWithResource(req, res, row, 200);
  });

  router.patch(`${path}/:id`, write, deps.readBody, async (req, res) => {
    const { row } = await deps.writePath.runShared(actorOf(req, 'scim'), (context) =>
      operations.patch(context, idParam(req), req.body, { ifMatch: req.get('if-match') }),
    );
    // A group's representation carries its whole member list; RFC 7644 §3.5.2 lets PATCH answer
    // 204, which keeps a one-member change O(1) for large groups unless the client asks for attributes.
    if (type === 'Group' && req.query.attributes === undefined) {
      res.setHeader('ETag', etagOf(row.version));
      res.status(204).end();
      return;
    }
    await respondWithResource(req, res, row, 200);
  });

  router.delete(`${path}/:id`, write, async (req, res) => {
    await deps.writePath.runShared(actorOf(req, 'scim'), (context) => operations.remove(context, idParam(req), { ifMatch: req.get('if-match') }));
    res.status(204).end();
  });

  router.all(path, refuseOtherMethods('GET, POST'));
  router.all(`${path}/.search`, refuseOtherMethods('POST'));
  router.all(`${path}/:id`, refuseOtherMethods('GET, PUT, PATCH, DELETE'));
  return router;
}
