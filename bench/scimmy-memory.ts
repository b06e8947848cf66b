/**
 * The in-memory reference for `npm run bench`: a SCIM server built the way scimmy and
 * scimmy-routers document it (express + SCIMMYRouters, ingress/egress/degress handlers over plain
 * Maps), with no database, no journal, no policy. It is what a write costs when nothing is durable,
 * so Roster's rows are printed beside it as a ratio (issue 18).
 *
 *   node --import tsx bench/scimmy-memory.ts     (PORT, HOST, MEMORY_DATABASE_URL, MEMORY_TOKEN from the environment)
 *
 * At start it loads the bench database's users, groups and memberships once (the same seeded data
 * Roster serves, managed groups included), then never touches the database again. Each user carries
 * its `groups` as Roster renders them. Lookups by id and simple `attr eq value` filters on userName,
 * externalId and displayName use a Map, as any in-memory server with unique userNames would; other
 * filters scan with scimmy's own Filter.match. Lists return every match and let scimmy sort and
 * page them, which is how its egress handler contract works (the handler cannot report a total).
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import pg from 'pg';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';

type Doc = Record<string, unknown> & { id: string; meta?: Record<string, unknown> };
type Resource = {
  id?: string;
  filter?: unknown[] & { match(values: Doc[]): Doc[] };
  constraints?: { sortBy?: string; startIndex?: number; count?: number; totalResults?: number };
};

const users = new Map<string, Doc>();
const groups = new Map<string, Doc>();
// Unique-attribute indexes, lower-cased (userName is case-insensitive in RFC 7643).
const indexes = { userName: new Map<string, string>(), externalId: new Map<string, string>(), displayName: new Map<string, string>() };
type IndexedAttribute = keyof typeof indexes;

function meta(resourceType: string, created: string, modified = created) {
  return { resourceType, created, lastModified: modified, version: `W/"${Date.parse(modified)}"` };
}

function index(doc: Doc, kind: 'User' | 'Group'): void {
  const keys: IndexedAttribute[] = kind === 'User' ? ['userName', 'externalId'] : ['displayName'];
  for (const key of keys) {
    const value = doc[key];
    if (typeof value === 'string') indexes[key].set(value.toLowerCase(), doc.id);
  }
}

async function load(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'roster-bench-memory' });
  await client.connect();
  try {
    const groupRows = await client.query<{ id: string; resource: Record<string, unknown>; created_at: Date }>('SELECT id, resource, created_at FROM groups');
    for (const row of groupRows.rows) {
      const doc: Doc = { ...row.resource, id: row.id, members: [], meta: meta('Group', row.created_at.toISOString()) };
      groups.set(row.id, doc);
      index(doc, 'Group');
    }
    const userRows = await client.query<{ id: string; resource: Record<string, unknown>; created_at: Date }>('SELECT id, resource, created_at FROM users ORDER BY created_at, id');
    for (const row of userRows.rows) {
      const doc: Doc = { ...row.resource, id: row.id, meta: meta('User', row.created_at.toISOString()) };
      users.set(row.id, doc);
      index(doc, 'User');
    }
    const memberRows = await client.query<{ group_id: string; member_id: string }>('SELECT group_id, member_id FROM group_members');
    for (const row of memberRows.rows) {
      const group = groups.get(row.group_id);
      const user = users.get(row.member_id);
      if (!group) continue;
      (group.members as unknown[]).push({ value: row.member_id, type: user ? 'User' : 'Group', ...(user ? { display: user.displayName } : {}) });
      if (user) ((user.groups ??= []) as unknown[]).push({ value: row.group_id, display: group.displayName, type: 'direct' });
    }
  } finally {
    await client.end();
  }
}

/** A filter that is one `attr eq "value"` on an indexed attribute: the id it names (or null for none). */
function indexedLookup(filter: Resource['filter']): string | null | undefined {
  if (!filter || filter.length !== 1) return undefined;
  const expression = filter[0] as Record<string, unknown>;
  const keys = Object.keys(expression);
  if (keys.length !== 1) return undefined;
  const key = keys[0] as IndexedAttribute;
  const comparison = expression[key];
  if (!(key in indexes) || !Array.isArray(comparison) || comparison[0] !== 'eq' || typeof comparison[1] !== 'string') return undefined;
  return indexes[key].get(comparison[1].toLowerCase()) ?? null;
}

function egress(store: Map<string, Doc>) {
  return (resource: Resource) => {
    if (resource.id) {
      const found = store.get(resource.id);
      if (!found) throw new SCIMMY.Types.Error(404, null!, `Resource ${resource.id} not found`);
      return found;
    }
    const byIndex = indexedLookup(resource.filter);
    if (byIndex !== undefined) {
      const found = byIndex === null ? undefined : store.get(byIndex);
      return found ? [found] : [];
    }
    const all = [...store.values()];
    return page(resource, resource.filter ? resource.filter.match(all) : all);
  };
}

/**
 * Only the requested page goes back to scimmy, with the total in the constraints (scimmy's
 * ListResponse then skips its own slicing): scimmy coerces every document it is handed, so
 * handing it all 10,000 users would measure that coercion, not a list. Sorted lists stay whole,
 * for scimmy to sort.
 */
function page(resource: Resource, matches: Doc[]): Doc[] {
  const constraints = resource.constraints;
  if (!constraints || constraints.sortBy !== undefined) return matches;
  const start = Math.max(1, Number(constraints.startIndex ?? 1));
  const count = Math.max(0, Number(constraints.count ?? 20));
  constraints.totalResults = matches.length;
  return matches.slice(start - 1, start - 1 + count);
}

function ingress(store: Map<string, Doc>, kind: 'User' | 'Group') {
  return (resource: Resource, instance: Record<string, unknown>) => {
    const now = new Date().toISOString();
    const unique = kind === 'User' ? 'userName' : 'displayName';
    const value = instance[unique];
    const holder = typeof value === 'string' ? indexes[unique].get(value.toLowerCase()) : undefined;
    if (holder !== undefined && holder !== resource.id) throw new SCIMMY.Types.Error(409, 'uniqueness', `${unique} is already taken`);
    if (resource.id) {
      const existing = store.get(resource.id);
      if (!existing) throw new SCIMMY.Types.Error(404, null!, `Resource ${resource.id} not found`);
      const updated: Doc = { ...JSON.parse(JSON.stringify(instance)), id: existing.id, meta: meta(kind, String(existing.meta?.created), now) };
      store.set(existing.id, updated);
      index(updated, kind);
      return updated;
    }
    const created: Doc = { ...JSON.parse(JSON.stringify(instance)), id: randomUUID(), meta: meta(kind, now) };
    store.set(created.id, created);
    index(created, kind);
    return created;
  };
}

function degress(store: Map<string, Doc>) {
  return (resource: Resource) => {
    if (!resource.id || !store.delete(resource.id)) throw new SCIMMY.Types.Error(404, null!, `Resource ${resource.id} not found`);
  };
}

async function main(): Promise<void> {
  const url = process.env.MEMORY_DATABASE_URL;
  const token = process.env.MEMORY_TOKEN;
  if (!url || !token) throw new Error('MEMORY_DATABASE_URL and MEMORY_TOKEN are required');
  await load(url);

  SCIMMY.Resources.declare(SCIMMY.Resources.User, {
    extensions: [{ schema: SCIMMY.Schemas.EnterpriseUser, required: false }],
    ingress: ingress(users, 'User') as never,
    egress: egress(users) as never,
    degress: degress(users) as never,
  });
  SCIMMY.Resources.declare(SCIMMY.Resources.Group, {
    ingress: ingress(groups, 'Group') as never,
    egress: egress(groups) as never,
    degress: degress(groups) as never,
  });

  const app = express();
  app.disable('x-powered-by');
  // scimmy takes startIndex and count only as integers, and Express parses every query value as a
  // string; without this, every list would be the first 20.
  app.set('query parser', (query: string) => {
    const parsed: Record<string, unknown> = Object.fromEntries(new URLSearchParams(query));
    for (const key of ['startIndex', 'count']) if (typeof parsed[key] === 'string' && /^-?\d+$/.test(parsed[key])) parsed[key] = Number(parsed[key]);
    return parsed;
  });
  app.get('/readyz', (_req, res) => {
    res.json({ status: 'ready', users: users.size, groups: groups.size });
  });
  const expected = `Bearer ${token}`;
  app.use(
    '/scim/v2',
    new SCIMMYRouters({
      type: 'bearer',
      handler: (request: express.Request) => {
        if (request.header('Authorization') !== expected) throw new Error('Authorization not detected!');
        return 'bench';
      },
    }) as unknown as express.Router,
  );

  const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`in-memory reference failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
