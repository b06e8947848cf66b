/**
 * Reading the target: look one object up by an attribute (`attr eq "value"`, the one filter every
 * target supports, AWS included), and page through all objects of a type (index or cursor paging,
 * per profile), robust to targets that page wrongly.
 */
import { quote } from '../../connectors/scim/patch.js';
import { logger } from '../logging/logger.js';
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

/** Pages read per listing at most: a target that never stops (ignores startIndex, loops cursors) still ends. */
export const MAX_PAGES = 20_000;

/** Listing anomalies already logged, per connector and type: logged once per process, not per page or per run. */
const anomaliesLogged = new Set<string>();

/**
 * Every remote object of a type, one page at a time. `onPage` gets each page as it arrives (for
 * progress). Returns how many objects were read.
 *
 * Index paging ignores `totalResults` (decision 0210): targets get it wrong (one reports the page
 * size; RFC 7644 §3.4.2.4 says it is the total) and trusting it silently drops everything past the
 * first page. Reading goes on until a page comes back empty or shorter than the pages the target
 * serves: a page shorter than asked for may be the end, or the target's own cap on page size (50,
 * say, when 500 were asked for), so the next page decides; once the cap is known, a page shorter
 * than it is the end. A page of nothing but objects already seen (a target that ignores startIndex)
 * ends it too, and MAX_PAGES bounds it whatever happens. Cursor paging ends when nextCursor is
 * absent. Anything unexpected is logged once.
 */
export async function listRemote(
  context: PushContext,
  type: ResourceType,
  onPage: (resources: Document[]) => Promise<void> | void,
  options: { excludeMembers?: boolean } = {},
): Promise<number> {
  const { profile } = context.connector;
  const exclude = options.excludeMembers ? '&excludedAttributes=members' : '';
  const read = async (path: string) => {
    const response = await push({ ...context, dryRun: false }, { type }, { method: 'GET', path: `${ENDPOINT[type]}?count=${profile.pageSize}${path}${exclude}` });
    const body = (response?.body ?? {}) as { Resources?: unknown; totalResults?: unknown; nextCursor?: unknown };
    return { body, resources: Array.isArray(body.Resources) ? (body.Resources as Document[]) : [] };
  };
  const listing = profile.paging === 'cursor' ? await listByCursor(read, onPage) : await listByIndex(read, onPage, profile.pageSize);
  logAnomalies(context.connector.name, type, listing.anomalies);
  return listing.seen;
}

type PageReader = (path: string) => Promise<{ body: { totalResults?: unknown; nextCursor?: unknown }; resources: Document[] }>;
type PageHandler = (resources: Document[]) => Promise<void> | void;
interface Listing {
  seen: number;
  anomalies: string[];
}

async function listByCursor(read: PageReader, onPage: PageHandler): Promise<Listing> {
  let seen = 0;
  let cursor = '';
  for (let pages = 1; ; pages++) {
    const { body, resources } = await read(`&cursor=${encodeURIComponent(cursor)}`);
    seen += resources.length;
    await onPage(resources);
    if (typeof body.nextCursor !== 'string' || body.nextCursor === '') return { seen, anomalies: [] };
    if (pages >= MAX_PAGES) return { seen, anomalies: [`stopped after ${MAX_PAGES} pages (${seen} objects) although the target gave a next cursor`] };
    cursor = body.nextCursor;
  }
}

async function listByIndex(read: PageReader, onPage: PageHandler, count: number): Promise<Listing> {
  const anomalies: string[] = [];
  const ids = new Set<string>();
  let seen = 0;
  /** The target's cap on page size, once a page came back shorter than asked for. */
  let cap: number | undefined;
  let reportedTotal: number | undefined;
  for (let startIndex = 1, pages = 1; ; pages++) {
    const { body, resources } = await read(`&startIndex=${startIndex}`);
    // The largest total any page claimed (the empty page past the end of a faulty target says 0).
    if (typeof body.totalResults === 'number') reportedTotal = Math.max(reportedTotal ?? 0, body.totalResults);
    const fresh = resources.filter((doc) => typeof doc.id !== 'string' || !ids.has(doc.id));
    if (resources.length > 0 && fresh.length === 0) {
      anomalies.push(`the page at startIndex ${startIndex} held only objects already read (does the target ignore startIndex?); stopped there`);
      break;
    }
    for (const doc of fresh) if (typeof doc.id === 'string') ids.add(doc.id);
    seen += fresh.length;
    await onPage(fresh);
    startIndex += resources.length;
    if (resources.length === 0) break;
    if (resources.length < count) {
      if (cap !== undefined && resources.length < cap) break;
      cap ??= resources.length;
    }
    if (pages >= MAX_PAGES) {
      anomalies.push(`stopped after ${MAX_PAGES} pages (${seen} objects)`);
      break;
    }
  }
  if (cap !== undefined && seen > cap) anomalies.push(`pages hold at most ${cap} objects although ${count} were asked for`);
  if (reportedTotal !== undefined && reportedTotal !== seen) anomalies.push(`totalResults said ${reportedTotal}, ${seen} objects were read (RFC 7644 §3.4.2.4: it is the total)`);
  return { seen, anomalies };
}

function logAnomalies(connector: string, type: ResourceType, anomalies: readonly string[]): void {
  const key = `${connector}:${type}`;
  if (anomalies.length === 0 || anomaliesLogged.has(key)) return;
  anomaliesLogged.add(key);
  logger.warn('sync: the target pages its list oddly; Roster read it in full anyway (logged once per process)', {
    connector,
    resourceType: type,
    anomalies,
  });
}
