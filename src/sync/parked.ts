/**
 * Parked objects: a target rejected the request for its content (a 4xx other than 429), so
 * retrying the same request would fail the same way. The object waits here, with the request and
 * the response, until someone fixes it (any later change to it is tried again automatically) or
 * runs `sync retry`. The rest of the connector's work goes on.
 */
import type { Knex } from 'knex';
import type { ResourceType } from './connector.js';
import type { RecordedRequest } from './push.js';

export interface ParkedObject {
  connector: string;
  resourceType: ResourceType;
  resourceId: string;
  parkedAt: Date;
  reason: string;
  request: RecordedRequest | null;
  response: { status: number; body: unknown } | null;
}

export async function park(
  db: Knex,
  connector: string,
  type: ResourceType,
  id: string,
  reason: string,
  request: RecordedRequest,
  response: { status: number; body: unknown },
): Promise<void> {
  await db.raw(
    `INSERT INTO sync_parked (connector, resource_type, resource_id, reason, request, response) VALUES (?, ?, ?, ?, ?::jsonb, ?::jsonb)
     ON CONFLICT (connector, resource_type, resource_id) DO UPDATE SET parked_at = now(), reason = EXCLUDED.reason, request = EXCLUDED.request, response = EXCLUDED.response`,
    [connector, type, id, reason.slice(0, 1000), JSON.stringify(request), JSON.stringify(response)],
  );
}

/** Removes the object from the parked list; returns whether it was there. */
export async function unpark(db: Knex, connector: string, type: ResourceType, id: string): Promise<boolean> {
  const removed = await db('sync_parked').where({ connector, resource_type: type, resource_id: id }).delete();
  return removed > 0;
}

export async function listParked(db: Knex, connector: string, limit = 1000): Promise<ParkedObject[]> {
  const rows = (await db('sync_parked')
    .select('*')
    .where({ connector })
    .orderBy([{ column: 'parked_at', order: 'asc' }, { column: 'resource_id' }])
    .limit(limit)) as Array<{
    connector: string;
    resource_type: ResourceType;
    resource_id: string;
    parked_at: Date;
    reason: string;
    request: RecordedRequest | null;
    response: { status: number; body: unknown } | null;
  }>;
  return rows.map((row) => ({
    connector: row.connector,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    parkedAt: row.parked_at,
    reason: row.reason,
    request: row.request,
    response: row.response,
  }));
}

export async function countParked(db: Knex, connector: string): Promise<number> {
  const row = (await db('sync_parked').count<{ n: string }[]>({ n: '*' }).where({ connector }).first()) as { n: string | number } | undefined;
  return Number(row?.n ?? 0);
}
