/**
 * Group membership rows: the only module that writes `group_members`. Every operation touches only
 * the rows it names, so adding one member to a 100,000-member group costs one index lookup and one
 * insert.
 */
import type { Knex } from 'knex';
import type { WriteSql } from '../db/folded.js';
import { isResourceId, type MemberRow } from './rows.js';

/** A member was deleted after the caller checked that it exists (a concurrent DELETE committed first). */
export class MemberGone extends Error {
  override name = 'MemberGone';
  constructor(readonly memberId: string | undefined) {
    super(`member ${memberId ?? '(unknown)'} no longer exists`);
  }
}

/**
 * Adds members; returns those that were not members before (existing ones are left as they are).
 * A member deleted after the caller checked it exists fails the foreign key on the member, and is
 * reported as MemberGone (the resources answer it as the client naming a resource that is gone).
 */
export async function addMembers(tx: Knex.Transaction, groupId: string, members: readonly MemberRow[]): Promise<MemberRow[]> {
  if (members.length === 0) return [];
  try {
    const { rows } = (await tx.raw(
      `INSERT INTO group_members (group_id, member_id, member_type)
       SELECT ?, m.id, m.type FROM unnest(?::uuid[], ?::text[]) AS m(id, type)
       ON CONFLICT (group_id, member_id) DO NOTHING
       RETURNING member_id AS value, member_type AS type`,
      [groupId, members.map((m) => m.value), members.map((m) => m.type)],
    )) as { rows: MemberRow[] };
    return rows;
  } catch (error) {
    const e = error as { code?: string; constraint?: string; detail?: string };
    if (e.code === '23503' && (e.constraint === 'group_members_member_user_fkey' || e.constraint === 'group_members_member_group_fkey')) {
      throw new MemberGone(/=\(([0-9a-f-]{36})\)/.exec(e.detail ?? '')?.[1]);
    }
    throw error;
  }
}

export async function removeMembers(tx: Knex.Transaction, groupId: string, memberIds: readonly string[]): Promise<MemberRow[]> {
  const ids = memberIds.filter(isResourceId);
  if (ids.length === 0) return [];
  const { rows } = (await tx.raw(
    `DELETE FROM group_members WHERE group_id = ? AND member_id = ANY(?::uuid[])
     RETURNING member_id AS value, member_type AS type`,
    [groupId, ids],
  )) as { rows: MemberRow[] };
  return rows;
}

/** Removes every member not in `keep`; returns the removed ones (a PUT of a group's members). */
export async function removeMembersExcept(tx: Knex.Transaction, groupId: string, keep: readonly string[]): Promise<MemberRow[]> {
  const { rows } = (await tx.raw(
    `DELETE FROM group_members WHERE group_id = ? AND NOT (member_id = ANY(?::uuid[]))
     RETURNING member_id AS value, member_type AS type`,
    [groupId, [...keep]],
  )) as { rows: MemberRow[] };
  return rows;
}

/** A user's membership in a group, for the policy's set-wise writes across many groups. */
export interface UserMembership {
  groupId: string;
  userId: string;
}

/** Adds users to groups in one statement (the policy's grants); existing memberships stay as they are. */
export function userMembershipAdds(memberships: readonly UserMembership[]): WriteSql | undefined {
  if (memberships.length === 0) return undefined;
  return {
    sql: `INSERT INTO group_members (group_id, member_id, member_type)
     SELECT m.group_id, m.member_id, 'User' FROM unnest(?::uuid[], ?::uuid[]) AS m(group_id, member_id)
     ON CONFLICT (group_id, member_id) DO NOTHING`,
    bindings: [memberships.map((m) => m.groupId), memberships.map((m) => m.userId)],
  };
}

/** Removes users from groups in one statement (the policy's revocations). */
export function userMembershipRemoves(memberships: readonly UserMembership[]): WriteSql | undefined {
  if (memberships.length === 0) return undefined;
  return {
    sql: `DELETE FROM group_members gm USING unnest(?::uuid[], ?::uuid[]) AS m(group_id, member_id)
     WHERE gm.group_id = m.group_id AND gm.member_id = m.member_id`,
    bindings: [memberships.map((m) => m.groupId), memberships.map((m) => m.userId)],
  };
}

export async function removeAllMembers(tx: Knex.Transaction, groupId: string): Promise<MemberRow[]> {
  const { rows } = (await tx.raw(
    `DELETE FROM group_members WHERE group_id = ? RETURNING member_id AS value, member_type AS type`,
    [groupId],
  )) as { rows: MemberRow[] };
  return rows;
}

/** Removes a deleted user or group from every group; returns the ids of the groups it left. */
export async function removeFromAllGroups(tx: Knex.Transaction, memberId: string): Promise<string[]> {
  const { rows } = (await tx.raw(`DELETE FROM group_members WHERE member_id = ? RETURNING group_id`, [memberId])) as {
    rows: Array<{ group_id: string }>;
  };
  return rows.map((row) => row.group_id);
}

/** Which of these candidate members name no existing user or group (of the stated type, if any). */
export async function findMissingMembers(db: Knex, members: readonly MemberRow[]): Promise<string[]> {
  const wellFormed = members.filter((m) => isResourceId(m.value));
  const malformed = members.filter((m) => !isResourceId(m.value)).map((m) => m.value);
  if (wellFormed.length === 0) return malformed;
  const { rows } = (await db.raw(
    `SELECT m.id::text AS id FROM unnest(?::uuid[], ?::text[]) AS m(id, type)
     WHERE NOT (
       (m.type = 'User' AND EXISTS (SELECT 1 FROM users u WHERE u.id = m.id)) OR
       (m.type = 'Group' AND EXISTS (SELECT 1 FROM groups g WHERE g.id = m.id))
     )`,
    [wellFormed.map((m) => m.value), wellFormed.map((m) => m.type)],
  )) as { rows: Array<{ id: string }> };
  return [...malformed, ...rows.map((row) => row.id)];
}

/** Resolves the type of members given without one: a User if such a user exists, else a Group. */
export async function resolveMemberTypes(db: Knex, ids: readonly string[]): Promise<Map<string, 'User' | 'Group'>> {
  const valid = ids.filter(isResourceId);
  const types = new Map<string, 'User' | 'Group'>();
  if (valid.length === 0) return types;
  const { rows } = (await db.raw(
    `SELECT id::text AS id, 'User' AS type FROM users WHERE id = ANY(?::uuid[])
     UNION ALL SELECT id::text, 'Group' FROM groups WHERE id = ANY(?::uuid[])`,
    [valid, valid],
  )) as { rows: Array<{ id: string; type: 'User' | 'Group' }> };
  for (const row of rows) types.set(row.id, row.type);
  return types;
}

/** Members of each group, with a display name, in one query for a page of groups. */
export async function membersOf(db: Knex, groupIds: readonly string[]): Promise<Map<string, MemberRow[]>> {
  const result = new Map<string, MemberRow[]>(groupIds.map((id) => [id, []]));
  if (groupIds.length === 0) return result;
  const { rows } = (await db.raw(
    `SELECT gm.group_id, gm.member_id AS value, gm.member_type AS type,
            COALESCE(u.resource->>'displayName', u.resource->>'userName', g.resource->>'displayName') AS display
     FROM group_members gm
     LEFT JOIN users u ON gm.member_type = 'User' AND u.id = gm.member_id
     LEFT JOIN groups g ON gm.member_type = 'Group' AND g.id = gm.member_id
     WHERE gm.group_id = ANY(?::uuid[])
     ORDER BY gm.group_id, gm.added_at, gm.member_id`,
    [[...groupIds]],
  )) as { rows: Array<MemberRow & { group_id: string; display: string | null }> };
  for (const row of rows) {
    result.get(row.group_id)?.push({ value: row.value, type: row.type, ...(row.display ? { display: row.display } : {}) });
  }
  return result;
}

const GROUP_REF_JSON = (depth: string) =>
  `json_strip_nulls(json_build_object('value', x.id, 'type', CASE WHEN ${depth} = 1 THEN 'direct' ELSE 'indirect' END, 'display', x.display))`;

/**
 * A scalar subquery: the groups the user `${alias}.id` belongs to, as a JSON array of
 * `{value, type, display}` read in the same statement as the user row (one round trip for a GET
 * or a page). Direct memberships and, through nested groups, indirect ones (RFC 7643 §4.1.2),
 * marked "direct" or "indirect"; nesting is followed to a depth of 10, which also stops cycles.
 * Whether any group has a group member is asked once per statement (an InitPlan on the partial
 * index group_members_nested): without nesting, each row takes a plain join, about half the cost
 * of the recursive walk. Never NULL: a user in no group gets `[]`.
 */
export function groupsJsonSql(alias: string): string {
  const direct = `(SELECT COALESCE(json_agg(${GROUP_REF_JSON('1')} ORDER BY x.display, x.id), '[]'::json)
     FROM (SELECT g.id, g.resource->>'displayName' AS display
           FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE gm.member_id = ${alias}.id) x)`;
  const nested = `(WITH RECURSIVE reach(group_id, depth) AS (
       SELECT gm.group_id, 1 FROM group_members gm WHERE gm.member_id = ${alias}.id
       UNION
       SELECT gm.group_id, reach.depth + 1 FROM reach JOIN group_members gm ON gm.member_id = reach.group_id AND gm.member_type = 'Group'
       WHERE reach.depth < 10
     )
     SELECT COALESCE(json_agg(${GROUP_REF_JSON('x.depth')} ORDER BY x.depth, x.display, x.id), '[]'::json)
     FROM (SELECT g.id, g.resource->>'displayName' AS display, min(reach.depth) AS depth
           FROM reach JOIN groups g ON g.id = reach.group_id GROUP BY g.id) x)`;
  return `(CASE WHEN (SELECT EXISTS (SELECT 1 FROM group_members WHERE member_type = 'Group')) THEN ${nested} ELSE ${direct} END)`;
}
