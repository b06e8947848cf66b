/**
 * SQL for writing many User or Group rows at once (the batch write API of the write path, e.g.
 * the HR import): one statement per function for the whole batch, same columns and bookkeeping
 * as the single-row functions in resource-store.ts.
 */
import type { Knex } from 'knex';
import type { ResourceTypeName } from '../scim/schema/urns.js';
import { TABLE_BY_TYPE, type ResourceRow } from './rows.js';
import { adjustCount } from './resource-store.js';

const COLUMNS = ['id', 'resource', 'version', 'created_at', 'updated_at'] as const;
const META_COLUMNS = COLUMNS.filter((c) => c !== 'resource');

type RowToWrite = { id: string; resource: Record<string, unknown>; extra?: { password_hash?: string | null } };

/**
 * The rows as one JSON parameter (`[{"id", "resource"(, "password_hash")}, …]`, read by
 * json_to_recordset), not a VALUES list or one array per column: each document is serialised once,
 * into the text the driver sends as it is (a jsonb[] literal made it escape every quote of every
 * document again), and PostgreSQL reads the nested objects as jsonb, as from a jsonb text.
 */
function rowsParameter(rows: ReadonlyArray<RowToWrite>, withPasswordHash: boolean): string {
  const parts: string[] = [];
  for (const r of rows) {
    const hash = withPasswordHash ? `,"password_hash":${JSON.stringify(r.extra?.password_hash ?? null)}` : '';
    parts.push(`{"id":${JSON.stringify(r.id)},"resource":${JSON.stringify(r.resource)}${hash}}`);
  }
  return `[${parts.join(',')}]`;
}

/** Inserts the rows (one statement) and adjusts the resource count once; rows in the order given. */
export async function insertResources(
  tx: Knex.Transaction,
  type: ResourceTypeName,
  rows: ReadonlyArray<RowToWrite>,
): Promise<ResourceRow[]> {
  if (rows.length === 0) return [];
  const users = type === 'User';
  const { rows: inserted } = (await tx.raw(
    `INSERT INTO ${TABLE_BY_TYPE[type]} (id, resource${users ? ', password_hash' : ''})
     SELECT v.id, v.resource${users ? ', v.password_hash' : ''} FROM json_to_recordset(?::json) AS v(id uuid, resource jsonb${users ? ', password_hash text' : ''})
     RETURNING ${META_COLUMNS.join(', ')}`,
    [rowsParameter(rows, users)],
  )) as { rows: Array<Omit<ResourceRow, 'resource'>> };
  await adjustCount(tx, type, rows.length);
  // The stored document is the one sent (plain JSON through jsonb): not read back, which would
  // parse every document of the batch again only to get the same values.
  const byId = new Map(inserted.map((row) => [row.id, row]));
  return rows.map((r) => ({ ...byId.get(r.id)!, resource: r.resource }));
}

/**
 * Reads and row-locks the resources, in id order (so concurrent batches cannot deadlock), by id.
 * FOR NO KEY UPDATE, like lockResource for a change.
 */
export async function lockResources(tx: Knex.Transaction, type: ResourceTypeName, ids: readonly string[]): Promise<Map<string, ResourceRow>> {
  if (ids.length === 0) return new Map();
  const { rows } = (await tx.raw(`SELECT ${COLUMNS.join(', ')} FROM ${TABLE_BY_TYPE[type]} WHERE id = ANY(?::uuid[]) ORDER BY id FOR NO KEY UPDATE`, [
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
       FROM json_to_recordset(?::json) AS v(id uuid, resource jsonb)
      WHERE r.id = v.id
      RETURNING ${COLUMNS.map((c) => `r.${c}`).join(', ')}`,
    [rowsParameter(rows, false)],
  )) as { rows: ResourceRow[] };
  return new Map(updated.map((row) => [row.id, row]));
}
