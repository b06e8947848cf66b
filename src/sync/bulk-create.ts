/**
 * Initial sync's fast path: users that a full sync found neither linked nor on the target are
 * created in batches (decision 0207). The rules are the per-object sync's rules; only the
 * bookkeeping is batched:
 *  - one transaction holds the per-object advisory locks of the batch (objects another process
 *    holds are left to the ordinary path) and as many of the connector's concurrency slots as are
 *    free, which is how many POSTs run in parallel;
 *  - one INSERT marks the batch 'creating' before anything is sent (crash safety, 0205), one INSERT
 *    records the remote ids and acknowledged documents after, one statement each queues the groups of
 *    the created users and the objects whose references to them were held back;
 *  - references (a manager) are translated to the target's ids with one lookup per batch;
 *  - each POST still goes through `push` (rate limit, circuit accounting, journal, classification).
 * Anything that is not a plain 201 (409, rejection, transient failure) goes back to the caller,
 * which runs the ordinary per-object sync for it.
 */
import type { Knex } from 'knex';
import type { Document } from '../../connectors/profile.js';
import type { Connector } from './connector.js';
import { enqueueSyncJobs } from './jobs.js';
import { push, type PushContext } from './push.js';
import type { PushJournal } from './push-journal.js';
import { findReferences, heldBackDetails, resolveReferences, translateReferences } from './references.js';
import { remoteIdOf } from './remote.js';

export interface BulkCreateResult {
  created: number;
  /** Users to hand to the ordinary per-object sync. */
  fallback: string[];
}

export async function createUsersInBatch(db: Knex, connector: Connector, ids: readonly string[], journal: PushJournal): Promise<BulkCreateResult> {
  const lockTx = await db.transaction();
  const fallback: string[] = [];
  try {
    const { rows: locked } = (await lockTx.raw(`SELECT id FROM unnest(?::text[]) AS id WHERE pg_try_advisory_xact_lock(hashtext(?), hashtext('User:' || id))`, [
      [...ids],
      `sync-resource:${connector.name}`,
    ])) as { rows: Array<{ id: string }> };
    const lockedIds = new Set(locked.map((r) => r.id));
    fallback.push(...ids.filter((id) => !lockedIds.has(id)));
    const { rows: slots } = (await lockTx.raw(`SELECT s FROM generate_series(0, ? - 1) AS s WHERE pg_try_advisory_xact_lock(hashtext(?), s)`, [
      connector.config.rateLimit.concurrency,
      `sync-slot:${connector.name}`,
    ])) as { rows: unknown[] };
    if (slots.length === 0) return { created: 0, fallback: [...ids] };

    // Still unlinked and in scope now (the full sync's listing may be a few seconds old).
    const scope = connector.scopeSql('User');
    const { rows: users } = (await db.raw(
      `SELECT r.id::text AS id, r.resource, r.version FROM users r
        WHERE r.id = ANY(?::uuid[]) AND (${scope.sql})
          AND NOT EXISTS (SELECT 1 FROM sync_links l WHERE l.connector = ? AND l.resource_type = 'User' AND l.resource_id = r.id)`,
      [[...lockedIds], ...scope.bindings, connector.name],
    )) as { rows: Array<{ id: string; resource: Document; version: number }> };
    const ready = new Set(users.map((u) => u.id));
    fallback.push(...[...lockedIds].filter((id) => !ready.has(id)));
    const planned = users
      .map((u) => {
        const desired = connector.profile.mapUser(u.resource, u.id);
        desired.active ??= true;
        return { ...u, desired };
      })
      .filter((u) => {
        if (connector.profile.checkUser(u.desired) === undefined) return true;
        fallback.push(u.id); // the per-object sync parks it with the reason
        return false;
      });
    if (planned.length === 0) return { created: 0, fallback };
    // References (a manager) in the target's ids: one lookup for the batch (references.ts).
    const resolutions = await resolveReferences(db, connector, planned.flatMap((u) => findReferences(u.desired)));
    const translated = planned.map((u) => ({ ...u, ...translateReferences(u.desired, resolutions, connector.config.baseUrl) }));

    await db.raw(
      `INSERT INTO sync_links (connector, resource_type, resource_id, state) SELECT ?, 'User', unnest(?::uuid[]), 'creating'
       ON CONFLICT DO NOTHING`,
      [connector.name, planned.map((u) => u.id)],
    );
    const context: PushContext = { db, connector, journal, dryRun: false };
    const created: Array<{ id: string; remoteId: string; desired: Document; version: number; referencedIds: string[] }> = [];
    let next = 0;
    const lane = async () => {
      for (;;) {
        const user = translated[next++];
        if (!user) return;
        const resource = { type: 'User' as const, id: user.id, name: typeof user.document.userName === 'string' ? user.document.userName : undefined };
        for (const reference of user.heldBack) journal.event('sync.reference-omitted', heldBackDetails(connector.name, reference), resource);
        try {
          const response = await push(context, resource, { method: 'POST', path: '/Users', body: user.document }, [409]);
          const remoteId = response?.status === 201 || response?.status === 200 ? remoteIdOf(response.body) : undefined;
          if (remoteId) created.push({ id: user.id, remoteId, desired: user.document, version: user.version, referencedIds: user.referencedIds });
          else fallback.push(user.id);
        } catch {
          fallback.push(user.id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(slots.length, planned.length) }, lane));

    if (created.length > 0) {
      await db.raw(
        `UPDATE sync_links l SET remote_id = c.remote, state = 'active', acknowledged = c.ack, synced_version = c.version,
                referenced_ids = NULLIF(ARRAY(SELECT jsonb_array_elements_text(c.refs)::uuid), '{}'), updated_at = now()
           FROM unnest(?::uuid[], ?::text[], ?::jsonb[], ?::bigint[], ?::jsonb[]) AS c(id, remote, ack, version, refs)
          WHERE l.connector = ? AND l.resource_type = 'User' AND l.resource_id = c.id`,
        [
          created.map((c) => c.id),
          created.map((c) => c.remoteId),
          created.map((c) => JSON.stringify(c.desired)),
          created.map((c) => c.version),
          created.map((c) => JSON.stringify(c.referencedIds)),
          connector.name,
        ],
      );
      await queueDependentsOf(db, connector, created.map((c) => c.id));
    }
    return { created: created.length, fallback };
  } finally {
    await lockTx.commit().catch(() => undefined);
  }
}

/**
 * What follows these (now active) users: the groups in scope that list them, and the linked
 * objects whose references to them were held back until they exist on the target.
 */
async function queueDependentsOf(db: Knex, connector: Connector, userIds: string[]): Promise<void> {
  const scope = connector.scopeSql('Group');
  const { rows: groups } =
    scope.sql === 'FALSE'
      ? { rows: [] }
      : ((await db.raw(
          `SELECT DISTINCT r.id::text AS id FROM group_members gm JOIN groups r ON r.id = gm.group_id
            WHERE gm.member_id = ANY(?::uuid[]) AND (${scope.sql})`,
          [userIds, ...scope.bindings],
        )) as { rows: Array<{ id: string }> });
  const { rows: referrers } = (await db.raw(
    `SELECT resource_type AS type, resource_id::text AS id FROM sync_links WHERE referenced_ids && ?::uuid[] AND referenced_ids IS NOT NULL AND connector = ?`,
    [userIds, connector.name],
  )) as { rows: Array<{ type: 'User' | 'Group'; id: string }> };
  await enqueueSyncJobs(db, [
    ...groups.map((row) => ({ connector: connector.name, type: 'Group' as const, id: row.id })),
    ...referrers.map((row) => ({ connector: connector.name, type: row.type, id: row.id })),
  ]);
}
