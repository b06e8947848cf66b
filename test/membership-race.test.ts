/**
 * Issue 14: an add-member PATCH racing a DELETE of the same member left membership rows for the
 * deleted resource (5 of 5 runs of 30 rounds with four concurrent adds). The foreign keys of
 * migration 20261207145100 make such a row impossible; the delete journals what it removed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const ROUNDS = 30;
const CONCURRENT_ADDS = 4;

async function create(path: '/Users' | '/Groups', body: Record<string, unknown>): Promise<string> {
  const res = await server.request('POST', path, { body });
  assert.equal(res.status, 201, res.text);
  return res.body.id as string;
}

describe('membership adds racing the member’s DELETE', () => {
  test(`${ROUNDS} rounds of ${CONCURRENT_ADDS} adds against a DELETE: no membership of a deleted resource, every committed add journaled as removed by the delete`, async () => {
    const groups: string[] = [];
    for (let i = 0; i < CONCURRENT_ADDS; i++) groups.push(await create('/Groups', { schemas: [GROUP_SCHEMA], displayName: `race target ${i}` }));

    for (let round = 0; round < ROUNDS; round++) {
      // Even rounds race a user, odd rounds a group nested into the targets.
      const memberIsGroup = round % 2 === 1;
      const member = memberIsGroup
        ? await create('/Groups', { schemas: [GROUP_SCHEMA], displayName: `race member ${round}` })
        : await create('/Users', { schemas: [USER_SCHEMA], userName: `race.${round}@example.com` });
      const adds = groups.map((group) =>
        server.request('PATCH', `/Groups/${group}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: member }] }] } }),
      );
      const deletion = server.request('DELETE', `/${memberIsGroup ? 'Groups' : 'Users'}/${member}`);
      const [deleted, ...added] = await Promise.all([deletion, ...adds]);
      assert.equal(deleted.status, 204, deleted.text);
      for (const res of added) {
        // Before the delete: added (204). After it: the member is gone, a client error (400).
        assert.ok(res.status === 204 || (res.status === 400 && res.body.scimType === 'invalidValue'), `round ${round}: ${res.status} ${res.text}`);
      }

      const { rows: left } = await server.db.knex.raw(`SELECT group_id FROM group_members WHERE member_id = ?`, [member]);
      assert.deepEqual(left, [], `round ${round}: memberships of the deleted ${memberIsGroup ? 'group' : 'user'} remain`);

      // Every add that committed was undone by the delete, and the journal says so.
      const addedTo = groups.filter((_, i) => added[i]!.status === 204).sort();
      const { rows: removals } = await server.db.knex.raw(
        `SELECT resource_id::text AS group_id FROM journal
          WHERE action = 'members.remove' AND reason->>'cause' = 'member deleted' AND changes->'membersRemoved' @> ?::jsonb
          ORDER BY 1`,
        [JSON.stringify([{ value: member }])],
      );
      assert.deepEqual(
        removals.map((r: { group_id: string }) => r.group_id),
        addedTo,
        `round ${round}: the delete journals removing exactly the memberships that were added`,
      );
    }

    const { rows: orphans } = await server.db.knex.raw(
      `SELECT count(*)::int AS n FROM group_members gm
        WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = gm.member_id)
          AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = gm.member_id)`,
    );
    assert.equal(orphans[0].n, 0);
  });

  test('the database itself refuses a membership of a missing user or group', async () => {
    const group = await create('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'direct insert target' });
    for (const type of ['User', 'Group']) {
      await assert.rejects(
        server.db.knex.raw(`INSERT INTO group_members (group_id, member_id, member_type) VALUES (?, gen_random_uuid(), ?)`, [group, type]),
        (error: { code?: string }) => error.code === '23503',
      );
    }
  });
});
