/**
 * The ids of the managed groups a policy adds users to, remembered in this process per applied
 * policy version (decision 0702), so a joiner's reconciliation does not look the groups up by name
 * in every transaction. The memory is only a guess: the statement that bumps the groups' versions
 * (and locks them) returns each group's name and whether it is still managed, and a guess that no
 * longer holds (a group deleted and recreated by a restore, released, or created by a transaction
 * that rolled back) is forgotten and the caller looks the groups up as before. So a stale entry
 * costs one extra statement, never a membership in the wrong group.
 */
import type { Knex } from 'knex';
import { queryPrepared } from '../db/prepared.js';

export interface GroupRef {
  id: string;
  name: string;
}

let remembered: { version: string; byName: Map<string, GroupRef> } | undefined;

/** The remembered groups for these lower-cased names under `version`; undefined unless all are known. */
export function rememberedGroupIds(version: string, names: readonly string[]): Map<string, GroupRef> | undefined {
  if (remembered?.version !== version) return undefined;
  const found = new Map<string, GroupRef>();
  for (const name of names) {
    const group = remembered.byName.get(name);
    if (!group) return undefined;
    found.set(name, group);
  }
  return found;
}

export function rememberGroupIds(version: string, groups: ReadonlyMap<string, GroupRef>): void {
  if (remembered?.version !== version) remembered = { version, byName: new Map() };
  for (const [name, group] of groups) remembered.byName.set(name, group);
}

export function forgetGroupIds(): void {
  remembered = undefined;
}

/**
 * New versions for the groups whose members change, rows locked in id order with FOR NO KEY UPDATE
 * (see bumpGroupVersions in reconcile-writes.ts for why that lock), in one prepared statement that
 * also says, for each group, its lower-cased name and whether a policy still manages it.
 */
const BUMP = {
  name: 'roster_policy_bump_groups',
  text: `UPDATE groups g SET version = g.version + 1, updated_at = date_trunc('milliseconds', now())
           FROM (SELECT id FROM groups WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE) locked
          WHERE g.id = locked.id
      RETURNING g.id::text AS id, lower(g.resource->>'displayName') AS name, g.managed_by IS NOT NULL AS managed`,
};

/**
 * Bumps `touchedGroups` and checks the remembered `expected` groups (by lower-cased name) among
 * them: true when each still exists under that name and is managed. Returns the ids bumped.
 */
export async function bumpCheckingRemembered(
  tx: Knex.Transaction,
  touchedGroups: ReadonlySet<string>,
  expected: ReadonlyMap<string, GroupRef>,
): Promise<{ holds: boolean; bumped: Set<string> }> {
  if (touchedGroups.size === 0) return { holds: true, bumped: new Set() };
  const rows = await queryPrepared<{ id: string; name: string | null; managed: boolean }>(tx, BUMP, [[...touchedGroups].sort()]);
  const found = new Map(rows.map((row) => [row.id.toLowerCase(), row]));
  let holds = true;
  for (const [name, group] of expected) {
    if (!touchedGroups.has(group.id)) continue;
    const row = found.get(group.id.toLowerCase());
    if (!row || !row.managed || row.name !== name) holds = false;
  }
  return { holds, bumped: new Set(rows.map((row) => row.id)) };
}
