/**
 * SQL for User and Group rows. One statement per function; callers pass the transaction.
 */
import type { Knex } from 'knex';
import type { ResourceTypeName } from '../scim/schema/urns.js';
import { isResourceId, TABLE_BY_TYPE, type ResourceRow } from './rows.js';

/** meta.lastModified is rendered in milliseconds; store it so, so filters on it match exactly. */
const MILLISECOND_NOW = "date_trunc('milliseconds', now())";

const COLUMNS = ['id', 'resource', 'version', 'created_at', 'updated_at'] as const;

export async function findResource(db: Knex, type: ResourceTypeName, id: string): Promise<ResourceRow | undefined> {
  if (!isResourceId(id)) return undefined;
  return (await db(TABLE_BY_TYPE[type]).select(COLUMNS).where({ id }).first()) as ResourceRow | undefined;
}

/** Reads and row-locks a resource for the rest of the transaction, so concurrent writers queue. */
export async function lockResource(tx: Knex.Transaction, type: ResourceTypeName, id: string): Promise<ResourceRow | undefined> {
  if (!isResourceId(id)) return undefined;
  return (await tx(TABLE_BY_TYPE[type]).select(COLUMNS).where({ id }).forUpdate().first()) as ResourceRow | undefined;
}

export async function insertResource(
  tx: Knex.Transaction,
  type: ResourceTypeName,
  id: string,
  resource: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<ResourceRow> {
  const [row] = await tx(TABLE_BY_TYPE[type]).insert({ id, resource, ...extra }).returning(COLUMNS);
  await adjustCount(tx, type, 1);
  return row as ResourceRow;
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

async function adjustCount(tx: Knex.Transaction, type: ResourceTypeName, delta: number): Promise<void> {
  await tx('resource_counts').where({ resource_type: type }).increment('total', delta);
}

export async function countAll(db: Knex, type: ResourceTypeName): Promise<number> {
  const row = (await db('resource_counts').select('total').where({ resource_type: type }).first()) as { total: number } | undefined;
  return Number(row?.total ?? 0);
}

export async function passwordHashOf(db: Knex, id: string): Promise<string | null> {
  const row = (await db('users').select('password_hash').where({ id }).first()) as { password_hash: string | null } | undefined;
  return row?.password_hash ?? null;
}
