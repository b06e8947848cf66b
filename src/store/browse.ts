/**
 * Keyset pages for browsing groups and their members (the console's Groups pages): each page is
 * one index range scan from the last row of the previous page, so the 1,000th page of a
 * 100,000-member group costs what the first does.
 *   groupsPage   by lower(displayName) (unique index groups_display_name_unique), optionally
 *                from a name prefix; with each group's owner and member count
 *   membersPage  by member_id within the group (primary key of group_members)
 */
import type { Knex } from 'knex';

export interface GroupListing {
  id: string;
  displayName: string;
  /** The policy file managing it, or null for a group the IdP pushed. */
  managedBy: string | null;
  members: number;
}

export async function groupsPage(db: Knex, options: { prefix?: string | undefined; after?: string | undefined; limit: number }): Promise<{ groups: GroupListing[]; next: string | undefined }> {
  const conditions: string[] = [];
  const bindings: unknown[] = [];
  if (options.prefix) {
    // LIKE on a prefix uses the btree index under the C collation Roster's databases use.
    conditions.push(`lower(g.resource->>'displayName') LIKE ? ESCAPE '\\'`);
    bindings.push(`${options.prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  if (options.after !== undefined) {
    conditions.push(`lower(g.resource->>'displayName') > ?`);
    bindings.push(options.after);
  }
  const { rows } = (await db.raw(
    `SELECT g.id, g.resource->>'displayName' AS "displayName", g.managed_by AS "managedBy",
            (SELECT count(*)::int FROM group_members gm WHERE gm.group_id = g.id) AS members
       FROM groups g ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
      ORDER BY lower(g.resource->>'displayName') LIMIT ?`,
    [...bindings, options.limit + 1] as Knex.RawBinding[],
  )) as { rows: GroupListing[] };
  const more = rows.length > options.limit;
  if (more) rows.length = options.limit;
  return { groups: rows, next: more ? rows[rows.length - 1]!.displayName.toLowerCase() : undefined };
}

export interface MemberListing {
  id: string;
  type: 'User' | 'Group';
  name: string | null;
  displayName: string | null;
  addedAt: Date;
}

export async function membersPage(db: Knex, groupId: string, options: { after?: string | undefined; limit: number }): Promise<{ members: MemberListing[]; next: string | undefined }> {
  const { rows } = (await db.raw(
    `SELECT gm.member_id AS id, gm.member_type AS type, gm.added_at AS "addedAt",
            COALESCE(u.resource->>'userName', g.resource->>'displayName') AS name,
            u.resource->>'displayName' AS "displayName"
       FROM group_members gm
       LEFT JOIN users u ON gm.member_type = 'User' AND u.id = gm.member_id
       LEFT JOIN groups g ON gm.member_type = 'Group' AND g.id = gm.member_id
      WHERE gm.group_id = ? ${options.after ? 'AND gm.member_id > ?' : ''}
      ORDER BY gm.member_id LIMIT ?`,
    [groupId, ...(options.after ? [options.after] : []), options.limit + 1],
  )) as { rows: MemberListing[] };
  const more = rows.length > options.limit;
  if (more) rows.length = options.limit;
  return { members: rows, next: more ? rows[rows.length - 1]!.id : undefined };
}
