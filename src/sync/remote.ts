/**
 * Reading the target: look one object up by an attribute (`attr eq "value"`, the one filter every
 * target supports, AWS included), and page through all objects of a type (index or cursor paging,
 * per profile).
 */
import { quote } from '../../connectors/scim/patch.js';
import type { Document } from '../../connectors/profile.js';
import type { ResourceType } from './connector.js';
import { deleteLink, type Link } from './links.js';
import { push, type PushContext } from './push.js';
import type { SyncContext } from './sync-context.js';

export const ENDPOINT: Record<ResourceType, string> = { User: '/Users', Group: '/Groups' };

/** The first remote object whose `attribute` equals `value`, or undefined. Always sent, even in a dry run. */
export async function lookupRemote(
  context: PushContext,
  resource: { type: ResourceType; id: string },
  attribute: string,
  value: string,
): Promise<Document | undefined> {
  const filter = encodeURIComponent(`${attribute} eq ${quote(value)}`);
  const response = await push({ ...context, dryRun: false }, resource, { method: 'GET', path: `${ENDPOINT[resource.type]}?filter=${filter}` });
  const found = (response?.body as { Resources?: unknown[] } | undefined)?.Resources;
  const first = Array.isArray(found) ? found[0] : undefined;
  return first && typeof first === 'object' && typeof (first as Document).id === 'string' ? (first as Document) : undefined;
}

/**
 * The remote id of a linked object that is to be deprovisioned. A link without one means a create
 * was in flight when the object left scope: look it up by externalId to find out whether it landed.
 * Undefined when the target never got it; the link is then forgotten (not in a dry run).
 */
export async function remoteIdToDeprovision(context: SyncContext, type: ResourceType, id: string, link: Link): Promise<string | undefined> {
  if (link.remoteId) return link.remoteId;
  const existing = await lookupRemote(context, { type, id }, 'externalId', id);
  if (existing) return existing.id as string;
  if (!context.dryRun) await deleteLink(context.db, context.connector.name, type, id);
  return undefined;
}

export function remoteIdOf(body: unknown): string | undefined {
  const id = (body as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * Every remote object of a type, one page at a time. `onPage` gets each page as it arrives (for
 * progress). Index paging stops when a page comes back short or totalResults is reached; cursor
 * paging when nextCursor is absent.
 */
export async function listRemote(
  context: PushContext,
  type: ResourceType,
  onPage: (resources: Document[]) => Promise<void> | void,
  options: { excludeMembers?: boolean } = {},
): Promise<number> {
  const { profile } = context.connector;
  const count = profile.pageSize;
  const exclude = options.excludeMembers ? '&excludedAttributes=members' : '';
  const probe = { type };
  let seen = 0;
  if (profile.paging === 'cursor') {
    let cursor = '';
    for (;;) {
      const response = await push({ ...context, dryRun: false }, probe, { method: 'GET', path: `${ENDPOINT[type]}?count=${count}&cursor=${encodeURIComponent(cursor)}${exclude}` });
      const body = (response?.body ?? {}) as { Resources?: Document[]; nextCursor?: unknown };
      const resources = Array.isArray(body.Resources) ? body.Resources : [];
      seen += resources.length;
      await onPage(resources);
      if (typeof body.nextCursor !== 'string' || body.nextCursor === '') return seen;
      cursor = body.nextCursor;
    }
  }
  for (let startIndex = 1; ; ) {
    const response = await push({ ...context, dryRun: false }, probe, { method: 'GET', path: `${ENDPOINT[type]}?startIndex=${startIndex}&count=${count}${exclude}` });
    const body = (response?.body ?? {}) as { Resources?: Document[]; totalResults?: unknown };
    const resources = Array.isArray(body.Resources) ? body.Resources : [];
    seen += resources.length;
    await onPage(resources);
    startIndex += resources.length;
    const total = typeof body.totalResults === 'number' ? body.totalResults : undefined;
    if (resources.length === 0 || (total !== undefined && startIndex > total)) return seen;
  }
}
