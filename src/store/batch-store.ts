/**
 * SQL for writing many User or Group rows at once (the batch write API of the write path, e.g.
 * the HR import): one statement per function for the whole batch, same columns and bookkeeping
 * as the single-row functions in resource-store.ts.
 */
import type { Knex } from 'knex';
import type { ResourceTypeName } from '../scim/schema/urns.js';
import { TABLE_BY_TYPE, type ResourceRow } from './rows.js';

const COLUMNS = ['id', 'resource', 'version', 'created_at', 'updated_at'] as const;

/** Inserts the rows (one statement) and adjusts the resource count once; rows in the order given. */
export async function insertResources(
  tx: Knex.Transaction,
  type: ResourceTypeName,
  rows: ReadonlyArray<{ id: string; resource: Record<string, unknown>; extra?: { password_hash?: string | null } }>,
): Promise<ResourceRow[]> {
  if (rows.length === 0) return [];
  // Arrays, not a VALUES list: three parameters however many rows (password_hash: users only).
  const hashes = type === 'User' ? `, password_hash` : '';
  const passwordHashes: string[] = rows.map((r) => r.extra?.password_hash ?? null) as string[];
  const { rows: inserted } = (await tx.raw(
    `INSERT INTO ${TABLE_BY_TYPE[type]} (id, resource${hashes})
     SELECT * FROM unnest(?::uuid[], ?::jsonb[]${type === 'User' ? ', ?::text[]' : ''})
     RETURNING ${COLUMNS.join(', ')}`,
    [rows.map((r) => r.id), rows.map((r) => JSON.stringify(r.resource)), ...(type === 'User' ? [passwordHashes] : [])],
  )) as { rows: ResourceRow[] };
  await tx('resource_counts').where({ resource_type: type }).increment('total', rows.length);
  const byId = new Map(inserted.map((row) => [row.id, row]));
  return rows.map((r) => byId.get(r.id)!);
}

/** Reads and row-locks the resources, in id order (so concurrent batches cannot deadlock), by id. */
export async function lockResources(tx: Knex.Transaction, type: ResourceTypeName, ids: readonly string[]): Promise<Map<string, ResourceRow>> {
  if (ids.length === 0) return new Map();
  const { rows } = (await tx.raw(`SELECT ${COLUMNS.join(', ')} FROM ${TABLE_BY_TYPE[type]} WHERE id = ANY(?::uuid[]) ORDER BY id FOR UPDATE`, [
    [...new Set(ids.map((id) => id.toLowerCase()))],
  ])) as { rows: ResourceRow[] };
  return new Map(rows.map((row) => [row.id, row]));
}

/** New documents for locked rows (one statement): each gets a new version, as updateResource does. */
export async function updateResources(
  tx: Knex.Transaction,
  type: ResourceTypeName,
  rows: ReadonlyArray<{ id: string; resource: Record<string, unknown> }>,
): Promise<Map<string, ResourceRow>> {
  if (rows.length === 0) return new Map();
  const { rows: updated } = (await tx.raw(
    `UPDATE ${TABLE_BY_TYPE[type]} r SET resource = v.resource, version = r.version + 1, updated_at = date_trunc('milliseconds', now())
       FROM unnest(?::uuid[], ?::jsonb[]) AS v(id, resource)
      WHERE r.id = v.id
      RETURNING ${COLUMNS.map((c) => `r.${c}`).join(', ')}`,
    [rows.map((r) => r.id), rows.map((r) => JSON.stringify(r.resource))],
  )) as { rows: ResourceRow[] };
  return new Map(updated.map((row) => [row.id, row]));
}
