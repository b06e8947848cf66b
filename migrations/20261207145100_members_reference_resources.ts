/**
 * A membership row can no longer outlive its member. `member_id` points at a user or a group
 * depending on `member_type`, so it could not carry a foreign key (core migration); two generated
 * columns split it by type, and each references its table with ON DELETE CASCADE. Inserting a
 * membership now takes a KEY SHARE lock on the member's row (the foreign key check), so an
 * add-member that races a DELETE of the same user either commits first, and the delete (which
 * locks the row FOR UPDATE, waiting for it) then finds and journals that membership, or comes
 * after and fails the foreign key check instead of leaving an orphan (issue 14).
 *
 * Memberships of members that no longer exist (left by that race before this migration) are
 * removed first; a foreign key cannot be added over them.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DELETE FROM group_members gm
     WHERE (gm.member_type = 'User' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = gm.member_id))
        OR (gm.member_type = 'Group' AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = gm.member_id));

    ALTER TABLE group_members
      ADD COLUMN member_user_id uuid
        GENERATED ALWAYS AS (CASE WHEN member_type = 'User' THEN member_id END) STORED
        CONSTRAINT group_members_member_user_fkey REFERENCES users(id) ON DELETE CASCADE,
      ADD COLUMN member_group_id uuid
        GENERATED ALWAYS AS (CASE WHEN member_type = 'Group' THEN member_id END) STORED
        CONSTRAINT group_members_member_group_fkey REFERENCES groups(id) ON DELETE CASCADE;

    -- The cascade (and the check on delete) looks memberships up by these columns.
    CREATE INDEX group_members_member_user ON group_members (member_user_id) WHERE member_user_id IS NOT NULL;
    CREATE INDEX group_members_member_group ON group_members (member_group_id) WHERE member_group_id IS NOT NULL;
  `);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
