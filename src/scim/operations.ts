/** The write operations of each resource type, so routes and bulk dispatch without branching. */
import { createGroup, deleteGroup, patchGroup, replaceGroup } from '../resources/groups.js';
import { createUser, deleteUser, patchUser, replaceUser, type WriteOutcome } from '../resources/users.js';
import type { Preconditions } from '../resources/common.js';
import type { ResourceRow } from '../store/rows.js';
import type { WriteContext } from '../write/write-path.js';
import type { ResourceTypeName } from './schema/urns.js';

export interface ResourceOperations {
  create(context: WriteContext, body: unknown): Promise<ResourceRow>;
  replace(context: WriteContext, id: string, body: unknown, preconditions: Preconditions): Promise<WriteOutcome>;
  patch(context: WriteContext, id: string, body: unknown, preconditions: Preconditions): Promise<WriteOutcome>;
  remove(context: WriteContext, id: string, preconditions: Preconditions): Promise<void>;
}

export const OPERATIONS: Record<ResourceTypeName, ResourceOperations> = {
  User: { create: createUser, replace: replaceUser, patch: patchUser, remove: deleteUser },
  Group: { create: createGroup, replace: replaceGroup, patch: patchGroup, remove: deleteGroup },
};
