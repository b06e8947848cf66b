/**
 * POST /.search at the root (RFC 7644 §3.4.3): one filter over Users and Groups, paged across the
 * concatenation (Users first, then Groups), each type queried in SQL with its own LIMIT/OFFSET.
 * A filter attribute that one type lacks simply matches nothing of that type.
 */
import { Router } from 'express';
import { requireScope } from '../../http/auth.js';
import { sendScim } from '../../http/scim-response.js';
import { invalidValue, ScimError } from '../errors.js';
import { countMatching, listResources, whereClause, type ListResponseBody } from '../list.js';
import { readListQuery, searchRequestOf } from '../list-query.js';
import { LIST_RESPONSE_SCHEMA, type ResourceTypeName } from '../schema/urns.js';
import { baseUrlOf, type ScimDependencies } from './context.js';
import { refuseOtherMethods } from './method-not-allowed.js';

const TYPES: ResourceTypeName[] = ['User', 'Group'];

export function rootSearchRouter(deps: ScimDependencies): Router {
  const router = Router();
  router.post('/.search', requireScope('scim:read'), deps.readBody, async (req, res) => {
    const query = readListQuery(searchRequestOf(req.body), deps.limits);
    if (query.cursor !== undefined) throw invalidValue('Cursor paging is available per resource type (/Users/.search, /Groups/.search)');
    const applicable: ResourceTypeName[] = [];
    let firstError: unknown;
    for (const type of TYPES) {
      try {
        whereClause(type, query);
        applicable.push(type);
      } catch (error) {
        if (!(error instanceof ScimError)) throw error;
        firstError ??= error;
      }
    }
    if (applicable.length === 0) throw firstError;
    const baseUrl = baseUrlOf(req, deps.publicUrl);
    const resources: ListResponseBody['Resources'] = [];
    let totalResults = 0;
    let skip = query.startIndex - 1;
    for (const type of applicable) {
      const total = await countMatching(deps.db, type, whereClause(type, query));
      totalResults += total;
      const wanted = query.count - resources.length;
      if (skip >= total) {
        skip -= total;
        continue;
      }
      if (wanted > 0) {
        const page = await listResources(deps.db, type, { ...query, startIndex: skip + 1, count: wanted }, baseUrl, total);
        resources.push(...page.Resources);
      }
      skip = 0;
    }
    sendScim(res, 200, { schemas: [LIST_RESPONSE_SCHEMA], totalResults, itemsPerPage: resources.length, startIndex: query.startIndex, Resources: resources });
  });
  router.all('/.search', refuseOtherMethods('POST'));
  return router;
}
