/**
 * Discovery (RFC 7644 §4). /Schemas and /ResourceTypes are served by scimmy-routers from the
 * resource model declared to scimmy; /ServiceProviderConfig is scimmy's document with Roster's real
 * limits and the RFC 9865 `pagination` block, which scimmy does not know. Anything but GET is 405.
 */
import { Router, type RequestHandler } from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { requireScope } from '../../http/auth.js';
import { sendScim } from '../../http/scim-response.js';
import { declareScimResources } from '../schema/scimmy-setup.js';
import { refuseOtherMethods } from './method-not-allowed.js';
import { baseUrlOf, type ScimDependencies } from './context.js';

export function discoveryRouter(deps: ScimDependencies): Router {
  declareScimResources();
  const router = Router();
  const read = requireScope('scim:read');
  const scimmyRouter = new SCIMMYRouters({
    type: 'bearer',
    docUri: 'https://github.com/roster-scim/roster#readme',
    // Authentication already happened in Roster's own middleware before this router.
    handler: async (req) => String((req.res?.locals.principal as { name?: string } | undefined)?.name ?? ''),
    context: async () => ({}),
    baseUri: (req) => baseUrlOf(req, deps.publicUrl).replace(/\/scim\/v2$/, ''),
  }) as unknown as RequestHandler;
  // scimmy-routers' constructor resets these flags; set Roster's real capabilities afterwards.
  SCIMMY.Config.set({
    patch: true,
    filter: { supported: true, maxResults: deps.limits.maxPageSize },
    sort: true,
    etag: true,
    changePassword: true,
    bulk: { supported: true, maxOperations: deps.limits.bulkMaxOperations, maxPayloadSize: deps.limits.maxBodyBytes },
  });

  router.get('/ServiceProviderConfig', read, async (req, res) => {
    const config = JSON.parse(JSON.stringify(await new SCIMMY.Resources.ServiceProviderConfig().read())) as Record<string, unknown>;
    const meta = config.meta as Record<string, unknown>;
    meta.location = `${baseUrlOf(req, deps.publicUrl)}/ServiceProviderConfig`;
    sendScim(res, 200, {
      ...config,
      pagination: {
        cursor: true,
        index: true,
        defaultPaginationMethod: 'index',
        defaultPageSize: deps.limits.defaultPageSize,
        maxPageSize: deps.limits.maxPageSize,
      },
    });
  });
  router.all('/ServiceProviderConfig', refuseOtherMethods('GET'));
  for (const endpoint of ['/Schemas', '/ResourceTypes']) {
    router.get([endpoint, `${endpoint}/*rest`], read, scimmyRouter);
    router.all([endpoint, `${endpoint}/*rest`], refuseOtherMethods('GET'));
  }
  return router;
}
