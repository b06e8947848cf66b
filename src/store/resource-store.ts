/**
 * SQL for User and Group rows. One statement per function; callers pass the transaction.
 */
import DataLoader from 'dataloader';
import type { Knex } from 'knex';
import { queryPrepared, type PreparedStatement } from '../db/prepared.js';
import { EXTENSIONS_BY_TYPE, type ResourceTypeName } from '../scim/schema/urns.js';
import { groupsJsonSql } from './member-store.js';
import { isResourceId, TABLE_BY_TYPE, type GroupRef, type ReadRow, type ResourceRow } from './rows.js';

/** meta.lastModified is rendered in milliseconds; store it so, so filters on it match exactly. */
const MILLISECOND_NOW = "date_trunc('milliseconds', now())";

const COLUMNS = ['id', 'resource', 'version', 'created_at', 'updated_at'] as const;

export async function findResource(db: Knex, type: ResourceTypeName, id: string): Promise<ResourceRow | undefined> {
  if (!isResourceId(id)) return undefined;
  return (await db(TABLE_BY_TYPE[type]).select(COLUMNS).where({ id }).first()) as ResourceRow | undefined;
}

/**
 * The columns that read a row's document as text, for a table aliased `alias`: the document and
 * which extension URNs it carries (for `schemas`). The URNs are constants, so they are inlined.
 */
export function documentTextColumns(type: ResourceTypeName, alias: string): string {
  const urns = EXTENSIONS_BY_TYPE[type].map((urn) => `'${urn}'`).join(', ');
  const extensions = urns
    ? `ARRAY(SELECT u FROM unnest(ARRAY[${urns}]::text[]) WITH ORDINALITY AS e(u, n) WHERE ${alias}.resource -> u IS NOT NULL ORDER BY n)`
    : `ARRAY[]::text[]`;
  return `${alias}.resource::text AS resource_text, ${extensions} AS extensions`;
}

/** What a GET by id reads besides the row: the user's groups; the document as text (see above). */
export interface ReadShape {
  withGroups: boolean;
  documentAsText: boolean;
}

function readStatement(type: ResourceTypeName, shape: ReadShape): PreparedStatement {
  const table = TABLE_BY_TYPE[type];
  const document = shape.documentAsText ? documentTextColumns(type, 'r') : 'r.resource';
  const groups = shape.withGroups ? `, ${groupsJsonSql('r')} AS groups` : '';
  return {
    name: `roster_read_${table}${shape.withGroups ? '_groups' : ''}${shape.documentAsText ? '_text' : ''}`,
    text: `SELECT r.id, ${document}, r.version, r.created_at, r.updated_at${groups} FROM ${table} r WHERE r.id = ANY($1::uuid[])`,
  };
}

/**
 * GETs by id that arrive together are read together: one statement for all ids requested in the
 * same turn of the event loop (collected until setImmediate, so requests read from different
 * sockets in one poll share it). Under load this divides the database round trip, the dominant
 * cost of a GET, among the requests; a lone GET waits only for the end of the current loop turn.
 * Nothing is cached: each request's read runs after the request arrived, so a client still reads
 * its own committed writes. DataLoader (made for exactly this) does the batching.
 */
type ReadLoader = DataLoader<string, ReadRow | undefined>;

function readLoader(db: Knex, statement: PreparedStatement): ReadLoader {
  return new DataLoader<string, ReadRow | undefined>(
    async (ids) => {
      const rows = await queryPrepared<ReadRow>(db, statement, [ids]);
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id));
    },
    { cache: false, maxBatchSize: 100, batchScheduleFn: (dispatch) => setImmediate(dispatch) },
  );
}

/** One loader per database and statement (tests run several apps, on several databases, in one process). */
const LOADERS = new WeakMap<Knex, Map<string, ReadLoader>>();

function loaderFor(db: Knex, type: ResourceTypeName, shape: ReadShape): ReadLoader {
  const statement = readStatement(type, { withGroups: type === 'User' && shape.withGroups, documentAsText: shape.documentAsText });
  let loaders = LOADERS.get(db);
  if (!loaders) LOADERS.set(db, (loaders = new Map()));
  let loader = loaders.get(statement.name);
  if (!loader) loaders.set(statement.name, (loader = readLoader(db, statement)));
  return loader;
}

/**
 * The GET-by-id read: a prepared statement, batched with concurrent GETs; for a user whose groups
 * are wanted they come in the same row (`groups`), so a GET is one round trip.
 */
export async function readResource(db: Knex, type: ResourceTypeName, id: string, shape: ReadShape): Promise<ReadRow | undefined> {
  if (!isResourceId(id)) return undefined;
  return loaderFor(db, type, shape).load(id.toLowerCase());
}

const READ_USERS_GROUPS: PreparedStatement = {
  name: 'roster_groups_of_users',
  text: `SELECT u.id::text AS id, ${groupsJsonSql('u')} AS groups FROM unnest($1::uuid[]) AS u(id)`,
};

interface GroupsWanted {
  resolve(groups: GroupRef[]): void;
  reject(error: unknown): void;
}

/** The reads asked for in this turn of the event loop, per database, by lower-cased user id. */
const pendingGroupReads = new WeakMap<Knex, Map<string, GroupsWanted[]>>();

/**
 * The groups a user is in (for a response to a write, whose row comes from the write path). The
 * responses of one shared commit (decision 0708) ask at the same moment, once it has committed:
 * every read asked for in the same turn of the event loop goes as one statement.
 */
export function readUserGroups(db: Knex, id: string): Promise<GroupRef[]> {
  let pending = pendingGroupReads.get(db);
  if (!pending) {
    const reads = new Map<string, GroupsWanted[]>();
    pendingGroupReads.set(db, reads);
    setImmediate(() => {
      pendingGroupReads.delete(db);
      void readGroupsOfUsers(db, reads);
    });
    pending = reads;
  }
  const key = id.toLowerCase();
  return new Promise<GroupRef[]>((resolve, reject) => {
    const waiting = pending.get(key);
    if (waiting) waiting.push({ resolve, reject });
    else pending.set(key, [{ resolve, reject }]);
  });
}

async function readGroupsOfUsers(db: Knex, reads: ReadonlyMap<string, GroupsWanted[]>): Promise<void> {
  try {
    const rows = await queryPrepared<{ id: string; groups: GroupRef[] }>(db, READ_USERS_GROUPS, [[...reads.keys()]]);
    const byId = new Map(rows.map((row) => [row.id, row.groups]));
    for (const [id, waiting] of reads) for (const read of waiting) read.resolve(byId.get(id) ?? []);
  } catch (error) {
    for (const waiting of reads.values()) for (const read of waiting) read.reject(error);
  }
}

/**
 * Reads and row-locks a resource for the rest of the transaction, so concurrent writers queue.
 * A change takes FOR NO KEY UPDATE (what its UPDATE takes anyway): it queues behind other writers
 * of the row but not behind a membership insert naming it, whose foreign key check holds KEY SHARE
 * (waiting there would deadlock with a group write that locked the group first). A delete takes
 * FOR UPDATE, which does wait for those inserts to commit, so it then sees, removes and journals
 * every membership of the row (migration 20261207145100).
 */
export async function lockResource(
  tx: Knex.Transaction,
  type: ResourceTypeName,
  id: string,
  purpose: 'change' | 'delete' = 'change',
): Promise<ResourceRow | undefined> {
  if (!isResourceId(id)) return undefined;
  const query = tx(TABLE_BY_TYPE[type]).select(COLUMNS).where({ id });
  return (await (purpose === 'delete' ? query.forUpdate() : query.forNoKeyUpdate()).first()) as ResourceRow | undefined;
}

export async function insertResource(
  tx: Knex.Transaction,
  type: ResourceTypeName,
  id: string,
  resource: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<ResourceRow> {
  // The row and the count in one statement: one round trip less for every create (issue 18).
  const columns = ['id', 'resource', ...Object.keys(extra)];
  const values = [id, JSON.stringify(resource), ...Object.values(extra)] as Knex.Value[];
  const { rows } = (await tx.raw(
    `WITH inserted AS (
       INSERT INTO ${TABLE_BY_TYPE[type]} (${columns.join(', ')}) VALUES (?, ?::jsonb${', ?'.repeat(columns.length - 2)}) RETURNING ${COLUMNS.join(', ')}
     ), counted AS (${COUNT_ADD_SQL})
     SELECT * FROM inserted`,
    [...values, type, 1],
  )) as { rows: ResourceRow[] };
  return rows[0]!;
}

export async function updateResource(
  tx: Knex.Transaction,
  type: ResourceTypeName,
  id: string,
  resource: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<ResourceRow> {
  const [row] = await tx(TABLE_BY_TYPE[type])
    .where({ id })
    .update({ resource, ...extra, version: tx.raw('version + 1'), updated_at: tx.raw(MILLISECOND_NOW) })
    .returning(COLUMNS);
  return row as ResourceRow;
}

/** A change outside the document (membership) still makes a new version. */
export async function bumpVersion(tx: Knex.Transaction, type: ResourceTypeName, id: string): Promise<ResourceRow> {
  const [row] = await tx(TABLE_BY_TYPE[type])
    .where({ id })
    .update({ version: tx.raw('version + 1'), updated_at: tx.raw(MILLISECOND_NOW) })
    .returning(COLUMNS);
  return row as ResourceRow;
}

export async function deleteResource(tx: Knex.Transaction, type: ResourceTypeName, id: string): Promise<void> {
  await tx(TABLE_BY_TYPE[type]).where({ id }).delete();
  await adjustCount(tx, type, -1);
}

/**
 * Adds a delta (bindings: the resource type, the delta) to the count slot of this transaction's
 * connection (migration 20261207210000, decision 0708): concurrent transactions on different
 * connections do not wait for each other's count, as they did on one row per type.
 */
export const COUNT_ADD_SQL = `INSERT INTO resource_counts (resource_type, slot, total) VALUES (?, pg_backend_pid() % 16, ?)
  ON CONFLICT (resource_type, slot) DO UPDATE SET total = resource_counts.total + EXCLUDED.total`;

export async function adjustCount(tx: Knex.Transaction, type: ResourceTypeName, delta: number): Promise<void> {
  await tx.raw(COUNT_ADD_SQL, [type, delta]);
}

export async function countAll(db: Knex, type: ResourceTypeName): Promise<number> {
  const row = (await db('resource_counts').sum({ total: 'total' }).where({ resource_type: type }).first()) as { total: string | number | null } | undefined;
  return Number(row?.total ?? 0);
}

export async function passwordHashOf(db: Knex, id: string): Promise<string | null> {
  const row = (await db('users').select('password_hash').where({ id }).first()) as { password_hash: string | null } | undefined;
  return row?.password_hash ?? null;
}
