/**
 * Tamper evidence on real PostgreSQL: the hash chain, its verification, the append-only trigger
 * and the retention purge with signed checkpoints. Each tampering test gets its own database,
 * because tampering breaks that chain for good.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { createGroup, patchGroup } from '../src/resources/groups.js';
import { createUser, deleteUser, patchUser } from '../src/resources/users.js';
import { canonicalJson, entryDigest, entryDigestOfTexts, type EntryBody, type EntryBodyTexts } from '../src/journal/hash.js';
import { appendJournal } from '../src/journal/append.js';
import { verifyJournal } from '../src/journal/verify.js';
import { purgeJournal } from '../src/journal/purge.js';
import { WritePath } from '../src/write/write-path.js';
import type { Actor } from '../src/journal/entry.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { GROUP_SCHEMA, PATCH_OP, USER_SCHEMA } from './support/server.js';

const actor = (name = 'chain-test'): Actor => ({ name, source: 'cli', requestId: `req-${name}` });

async function writeSome(writePath: WritePath, prefix: string, users = 3): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < users; i++) {
    const row = await writePath.run(actor(), (c) => createUser(c, { schemas: [USER_SCHEMA], userName: `${prefix}${i}@example.com`, title: 'Analyst' }));
    ids.push(row.id);
  }
  await writePath.run(actor(), (c) => patchUser(c, ids[0]!, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Manager' }] }, {}));
  return ids;
}

/** Runs SQL the way someone with database access would, with Roster's triggers switched off. */
async function asIntruder(knex: Knex, sql: string, bindings: readonly unknown[] = []): Promise<void> {
  await knex.transaction(async (tx) => {
    await tx.raw(`SET LOCAL session_replication_role = replica`);
    await tx.raw(sql, bindings as Knex.RawBinding[]);
  });
}

const journalIds = async (knex: Knex) => (await knex.raw(`SELECT id, seq FROM journal ORDER BY id`)).rows as Array<{ id: number; seq: number }>;

describe('hash chain', () => {
  let db: TestDatabase;
  let writePath: WritePath;
  before(async () => {
    db = await createTestDatabase();
    writePath = new WritePath(db.knex);
  });
  after(async () => db.drop());

  test('every entry links to the previous one; verify walks the chain and reports how many it checked', async () => {
    await writeSome(writePath, 'plain');
    const rows = (await db.knex.raw(`SELECT seq, prev_hash, hash FROM journal ORDER BY id`)).rows;
    assert.equal(rows.length, 4);
    assert.deepEqual(rows.map((r: { seq: number }) => r.seq), [1, 2, 3, 4]);
    assert.equal(rows[0].prev_hash, '0'.repeat(64));
    for (let i = 1; i < rows.length; i++) assert.equal(rows[i].prev_hash, rows[i - 1].hash);
    const report = await verifyJournal(db.knex);
    assert.equal(report.ok, true, report.finding?.message);
    assert.equal(report.checked, 4);
    assert.deepEqual(report.head, { seq: 4, hash: rows[3].hash });
  });

  test('20 concurrent writers never fork the chain', async () => {
    const before = (await verifyJournal(db.knex)).checked;
    const group = await writePath.run(actor(), (c) => createGroup(c, { schemas: [GROUP_SCHEMA], displayName: 'Concurrent' }));
    await Promise.all(
      Array.from({ length: 20 }, async (_, w) => {
        for (let i = 0; i < 5; i++) {
          const user = await writePath.run(actor(`writer-${w}`), (c) => createUser(c, { schemas: [USER_SCHEMA], userName: `w${w}-${i}@example.com` }));
          await writePath.run(actor(`writer-${w}`), (c) => patchGroup(c, group.id, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: user.id }] }] }, {}));
        }
      }),
    );
    const { rows } = await db.knex.raw(`SELECT count(*)::int AS n, count(DISTINCT seq)::int AS seqs, count(DISTINCT prev_hash)::int AS prevs, max(seq)::int AS top FROM journal`);
    assert.deepEqual(rows[0], { n: before + 201, seqs: before + 201, prevs: before + 201, top: before + 201 }, 'positions are contiguous and no two entries share a predecessor');
    const report = await verifyJournal(db.knex);
    assert.equal(report.ok, true, report.finding?.message);
    assert.equal(report.checked, before + 201);
  });

  test('entries are linked at commit: none is left pending, a rolled-back append leaves no entry and no gap', async () => {
    const head = async () => (await db.knex.raw(`SELECT seq, hash FROM journal_chain`)).rows[0] as { seq: string; hash: string };
    const start = await head();
    await assert.rejects(
      db.knex.transaction(async (tx) => {
        await appendJournal(tx, actor(), [{ action: 'test.rolled-back' }]);
        throw new Error('abandon');
      }),
      /abandon/,
    );
    assert.deepEqual(await head(), start, 'the head did not move');
    await db.knex.transaction((tx) => appendJournal(tx, actor(), [{ action: 'test.kept', reason: { n: 1 } }, { action: 'test.kept', reason: { n: 2 } }]));
    const { rows } = await db.knex.raw(`SELECT seq::int AS seq, chain_version, action FROM journal WHERE seq > ? ORDER BY seq`, [start.seq]);
    assert.deepEqual(rows, [
      { seq: Number(start.seq) + 1, chain_version: 2, action: 'test.kept' },
      { seq: Number(start.seq) + 2, chain_version: 2, action: 'test.kept' },
    ]);
    assert.equal((await db.knex.raw(`SELECT count(*)::int AS n FROM journal_pending`)).rows[0].n, 0);
    const report = await verifyJournal(db.knex);
    assert.equal(report.ok, true, report.finding?.message);
  });

  test('small appends (linked at commit) and a large one (linked at once) in one transaction keep their order', async () => {
    const before = (await verifyJournal(db.knex)).checked;
    const many = (action: string, n: number) => Array.from({ length: n }, (_, i) => ({ action, reason: { i } }));
    await db.knex.transaction(async (tx) => {
      await appendJournal(tx, actor(), many('test.first', 2));
      await appendJournal(tx, actor(), many('test.batch', 300)); // two chunks, linked as they arrive
      await appendJournal(tx, actor(), many('test.last', 1));
    });
    const { rows } = await db.knex.raw(`SELECT action, reason->>'i' AS i FROM journal WHERE action LIKE 'test.%' AND seq > ? ORDER BY seq`, [before]);
    const expected = [...many('test.first', 2), ...many('test.batch', 300), ...many('test.last', 1)].map((e) => ({ action: e.action, i: String(e.reason.i) }));
    assert.deepEqual(rows, expected);
    assert.equal((await db.knex.raw(`SELECT count(*)::int AS n FROM journal_pending`)).rows[0].n, 0);
    const report = await verifyJournal(db.knex);
    assert.equal(report.ok, true, report.finding?.message);
    assert.equal(report.checked, before + 303);
  });

  test('values that are not plain JSON (a Date, toJSON, NaN) and unsorted keys are stored as they read back, and verify', async () => {
    const when = new Date('2026-12-01T10:00:00.000Z');
    const custom = { toJSON: () => ({ y: 2, x: 1 }) };
    await db.knex.transaction(async (tx) => {
      await appendJournal(tx, actor(), [{ action: 'test.values', reason: { z: 1, a: { d: when, c: [custom, Number.NaN] }, 'é': 'ü' } }]);
    });
    const { rows } = await db.knex.raw(`SELECT reason FROM journal WHERE action = 'test.values'`);
    assert.deepEqual(rows[0].reason, { z: 1, a: { d: '2026-12-01T10:00:00.000Z', c: [{ y: 2, x: 1 }, null] }, 'é': 'ü' });
    const report = await verifyJournal(db.knex);
    assert.equal(report.ok, true, report.finding?.message);
  });

  test('the database refuses UPDATE, DELETE and TRUNCATE on the journal, and changes to checkpoints and the head', async () => {
    const [first] = await journalIds(db.knex);
    await assert.rejects(db.knex.raw(`UPDATE journal SET actor = 'mallory' WHERE id = ?`, [first!.id]), /append-only: UPDATE is refused/);
    await assert.rejects(db.knex.raw(`DELETE FROM journal WHERE id = ?`, [first!.id]), /append-only: DELETE is refused/);
    await assert.rejects(db.knex.raw(`TRUNCATE journal`), /TRUNCATE is refused/);
    // Setting the purge variable by hand does not open the door for rows beyond it.
    await assert.rejects(
      db.knex.transaction(async (tx) => {
        await tx.raw(`SELECT set_config('roster.journal_purge_through', '0', true)`);
        await tx.raw(`DELETE FROM journal WHERE id = ?`, [first!.id]);
      }),
      /DELETE is refused/,
    );
    await assert.rejects(db.knex.raw(`DELETE FROM journal_chain`), /only moves forward/);
    await assert.rejects(db.knex.raw(`UPDATE journal_chain SET seq = 1`), /only moves forward/);
    assert.equal((await verifyJournal(db.knex)).ok, true);
  });

  test('membership-only group entries and deleted users keep the resource name', async () => {
    const user = await writePath.run(actor(), (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'Named.Bob@example.com' }));
    const group = await writePath.run(actor(), (c) => createGroup(c, { schemas: [GROUP_SCHEMA], displayName: 'Finance Reporting' }));
    await writePath.run(actor(), (c) => patchGroup(c, group.id, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: user.id }] }] }, {}));
    await writePath.run(actor(), (c) => deleteUser(c, user.id, {}));
    const { rows } = await db.knex.raw(`SELECT action, resource_type, resource_name, member_ids FROM journal WHERE resource_id IN (?, ?) ORDER BY id`, [user.id, group.id]);
    assert.deepEqual(rows, [
      { action: 'create', resource_type: 'User', resource_name: 'Named.Bob@example.com', member_ids: null },
      { action: 'create', resource_type: 'Group', resource_name: 'Finance Reporting', member_ids: null },
      { action: 'update', resource_type: 'Group', resource_name: 'Finance Reporting', member_ids: [user.id] },
      { action: 'members.remove', resource_type: 'Group', resource_name: 'Finance Reporting', member_ids: [user.id] },
      { action: 'delete', resource_type: 'User', resource_name: 'Named.Bob@example.com', member_ids: null },
    ]);
    assert.equal((await verifyJournal(db.knex)).ok, true);
  });
});

describe('tampering done directly in SQL is detected, and the entry named', () => {
  let db: TestDatabase;
  let writePath: WritePath;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => db.drop());

  async function fresh(): Promise<Knex> {
    // A new database per case: after tampering the chain stays broken.
    const next = await createTestDatabase();
    const previous = db;
    db = next;
    await previous.drop();
    writePath = new WritePath(db.knex);
    await writeSome(writePath, 't', 5);
    return db.knex;
  }

  test('UPDATE of one field: "edited", naming the entry', async () => {
    const knex = await fresh();
    const target = (await journalIds(knex))[2]!;
    await asIntruder(knex, `UPDATE journal SET after = jsonb_set(after, '{title}', '"Director"') WHERE id = ?`, [target.id]);
    const report = await verifyJournal(knex);
    assert.equal(report.ok, false);
    assert.equal(report.finding?.kind, 'edited');
    assert.equal(report.finding?.entryId, target.id);
    assert.match(report.finding!.message, new RegExp(`entry #${target.id} \\(position 3, .*was edited`));
    assert.equal(report.checked, 2, 'the two entries before it were checked');
  });

  test('switching an entry to the other hash format (chain_version) is an edit', async () => {
    const knex = await fresh();
    const target = (await journalIds(knex))[1]!;
    await asIntruder(knex, `UPDATE journal SET chain_version = 1 WHERE id = ?`, [target.id]);
    const report = await verifyJournal(knex);
    assert.equal(report.finding?.kind, 'edited');
    assert.equal(report.finding?.entryId, target.id);
  });

  test('UPDATE of the actor alone, or of the time, is an edit too', async () => {
    const knex = await fresh();
    const [, target, later] = await journalIds(knex);
    await asIntruder(knex, `UPDATE journal SET at = at - interval '1 day' WHERE id = ?`, [later!.id]);
    await asIntruder(knex, `UPDATE journal SET actor = 'someone-else' WHERE id = ?`, [target!.id]);
    const report = await verifyJournal(knex);
    assert.equal(report.finding?.kind, 'edited');
    assert.equal(report.finding?.entryId, target!.id, 'the first edited entry is reported');
  });

  test('DELETE of one row in the middle: "deleted", naming the position and where the chain resumes', async () => {
    const knex = await fresh();
    const ids = await journalIds(knex);
    await asIntruder(knex, `DELETE FROM journal WHERE id = ?`, [ids[3]!.id]);
    const report = await verifyJournal(knex);
    assert.equal(report.ok, false);
    assert.equal(report.finding?.kind, 'deleted');
    assert.equal(report.finding?.entryId, ids[4]!.id);
    assert.match(report.finding!.message, new RegExp(`an entry was deleted: position 4 is missing after entry #${ids[2]!.id}; the chain resumes at entry #${ids[4]!.id}`));
  });

  test('DELETE of the newest row: noticed against the chain head', async () => {
    const knex = await fresh();
    const ids = await journalIds(knex);
    await asIntruder(knex, `DELETE FROM journal WHERE id = ?`, [ids.at(-1)!.id]);
    const report = await verifyJournal(knex);
    assert.equal(report.ok, false);
    assert.equal(report.finding?.kind, 'truncated');
    assert.match(report.finding!.message, /the newest entry was deleted: the chain head records position 6, but the journal ends at position 5/);
  });

  test('INSERT of a row (plain, or copying the chain fields of the last one): "inserted", naming it', async () => {
    const knex = await fresh();
    const { rows } = await knex.raw(`INSERT INTO journal (actor, source, action, resource_type, resource_name) VALUES ('mallory', 'scim', 'delete', 'User', 'ceo@example.com') RETURNING id`);
    const report = await verifyJournal(knex);
    assert.equal(report.finding?.kind, 'inserted');
    assert.equal(report.finding?.entryId, rows[0].id);
    assert.match(report.finding!.message, new RegExp(`entry #${rows[0].id} .*mallory.*inserted out of band`));

    const knex2 = await fresh();
    const forged = await knex2.raw(
      `INSERT INTO journal (actor, source, action, resource_type, seq, prev_hash, hash, at)
       SELECT 'mallory', source, action, resource_type, seq + 1, hash, hash, at FROM journal ORDER BY seq DESC LIMIT 1 RETURNING id`,
    );
    const report2 = await verifyJournal(knex2);
    assert.equal(report2.finding?.kind, 'inserted');
    assert.equal(report2.finding?.entryId, forged.rows[0].id);
    assert.equal(report2.checked, 6);
  });
});

test('entries written before the chain existed are chained by the migration', async () => {
  const legacy = await createTestDatabase({ migrate: false });
  try {
    // Apply migrations one by one up to the one before the chain, then write journal rows the old way.
    for (;;) {
      const [, pending] = (await legacy.knex.migrate.list()) as [unknown[], Array<readonly [string, unknown]>];
      const name = pending[0]?.[0];
      if (!name || name >= '20261122000500') break;
      await legacy.knex.migrate.up();
    }
    const group = '6f0c6f2e-1d0a-4c59-9c1b-6a8f8d2d1a11';
    const member = '0b8e9c64-3a55-4a1e-bb0e-5e7c6d0c2f22';
    await legacy.knex.raw(
      `INSERT INTO journal (at, actor, source, request_id, action, resource_type, resource_id, before, after, changes) VALUES
       (now() - interval '2 days', 'entra', 'scim', 'r1', 'create', 'User', ?, NULL, '{"userName":"legacy@example.com"}', '[{"path":"userName","after":"legacy@example.com"}]'),
       (now() - interval '1 day', 'okta', 'scim', 'r2', 'update', 'Group', ?, NULL, NULL, ?::jsonb)`,
      [member, group, JSON.stringify({ membersAdded: [{ value: member.toUpperCase(), type: 'User' }] })],
    );
    await legacy.knex.migrate.latest();
    const { rows } = await legacy.knex.raw(`SELECT seq, resource_name, member_ids FROM journal ORDER BY id`);
    assert.deepEqual(rows, [
      { seq: 1, resource_name: 'legacy@example.com', member_ids: null },
      { seq: 2, resource_name: null, member_ids: [member] },
    ]);
    const report = await verifyJournal(legacy.knex);
    assert.equal(report.ok, true, report.finding?.message);
    assert.equal(report.checked, 2);
    // New appends continue the backfilled chain.
    await new WritePath(legacy.knex).run(actor(), (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'after@example.com' }));
    assert.equal((await verifyJournal(legacy.knex)).checked, 3);
  } finally {
    await legacy.drop();
  }
});

describe('retention purge', () => {
  let db: TestDatabase;
  let writePath: WritePath;
  before(async () => {
    db = await createTestDatabase();
    writePath = new WritePath(db.knex);
  });
  after(async () => db.drop());

  test('removes the old prefix, leaves a signed checkpoint, and the journal still verifies', async () => {
    await writeSome(writePath, 'old', 3);
    // The driver reads timestamps to the millisecond: a cutoff taken in the same millisecond as
    // the last old entry would truncate to that entry's time and keep it (a flake seen in CI).
    await new Promise((resolve) => setTimeout(resolve, 5));
    const cutoff = new Date((await db.knex.raw(`SELECT clock_timestamp() AS now`)).rows[0].now);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await writeSome(writePath, 'new', 2);
    const result = await purgeJournal(db.knex, { cutoff, actor: actor('retention'), batchSize: 3 });
    assert.deepEqual(result, { removed: 4, checkpoints: 2, throughSeq: 4 }, 'two batches of at most 3, a purge entry appended after the first');
    const { rows } = await db.knex.raw(`SELECT seq, action, reason FROM journal ORDER BY seq`);
    assert.equal(rows[0].seq, 5);
    const names = (await db.knex.raw(`SELECT resource_name FROM journal WHERE resource_name IS NOT NULL`)).rows.map((r: { resource_name: string }) => r.resource_name);
    assert.ok(names.length > 0 && names.every((n: string) => n.startsWith('new')), `only the new entries remain: ${names.join(', ')}`);
    const purgeEntries = rows.filter((r: { action: string }) => r.action === 'journal.purge');
    assert.equal(purgeEntries.length, 2);
    assert.equal(purgeEntries[0].reason.entriesRemoved, 3);
    const checkpoints = (await db.knex.raw(`SELECT through_seq, entries_removed FROM journal_checkpoints ORDER BY id`)).rows;
    assert.deepEqual(checkpoints, [{ through_seq: 3, entries_removed: 3 }, { through_seq: 4, entries_removed: 1 }]);
    const report = await verifyJournal(db.knex);
    assert.equal(report.ok, true, report.finding?.message);
    assert.equal(report.startedAfter.seq, 4);
    assert.equal(report.checked, rows.length);
    assert.deepEqual(await purgeJournal(db.knex, { cutoff, actor: actor('retention') }), { removed: 0, checkpoints: 0, throughSeq: 0 }, 'nothing left to purge');
  });

  test('a forged or altered checkpoint fails verification', async () => {
    await asIntruder(db.knex, `UPDATE journal_checkpoints SET entries_removed = entries_removed + 1 WHERE through_seq = 4`);
    const report = await verifyJournal(db.knex);
    assert.equal(report.ok, false);
    assert.equal(report.finding?.kind, 'checkpoint');
    assert.match(report.finding!.message, /invalid signature/);
    await asIntruder(db.knex, `UPDATE journal_checkpoints SET entries_removed = entries_removed - 1 WHERE through_seq = 4`);
    assert.equal((await verifyJournal(db.knex)).ok, true);
  });

  test('checkpoints signed with ROSTER_JOURNAL_KEY verify only with that key', async () => {
    const key = 'k'.repeat(40);
    const cutoff = new Date((await db.knex.raw(`SELECT clock_timestamp() AS now`)).rows[0].now);
    const result = await purgeJournal(db.knex, { cutoff, actor: actor('retention'), keySecret: key });
    assert.ok(result.removed > 0);
    assert.equal((await verifyJournal(db.knex, { keySecret: key })).ok, true);
    const without = await verifyJournal(db.knex);
    assert.equal(without.ok, false);
    assert.match(without.finding!.message, /set ROSTER_JOURNAL_KEY to the key in use when it was written/);
  });

  test('the purge refuses to remove entries that do not verify', async () => {
    const other = await createTestDatabase();
    try {
      const wp = new WritePath(other.knex);
      await writeSome(wp, 'x', 2);
      const target = (await journalIds(other.knex))[1]!;
      await asIntruder(other.knex, `UPDATE journal SET actor = 'mallory' WHERE id = ?`, [target.id]);
      const cutoff = new Date(Date.now() + 60_000);
      await assert.rejects(purgeJournal(other.knex, { cutoff, actor: actor('retention') }), new RegExp(`Refusing to purge: entry #${target.id} .*was edited`));
      assert.equal((await journalIds(other.knex)).length, 3, 'nothing was removed');
    } finally {
      await other.drop();
    }
  });
});

test('canonicalJson gives the text of its straightforward definition (sorted keys at every level)', () => {
  const reference = (value: unknown): string => {
    if (value === null || value === undefined) return 'null';
    if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
    if (typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).filter((key) => record[key] !== undefined).sort();
      return `{${keys.map((key) => `${JSON.stringify(key)}:${reference(record[key])}`).join(',')}}`;
    }
    return JSON.stringify(value);
  };
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const KEYS = ['a', 'B', 'b', 'é', 'z"q', 'urn:x:User', '10', '2', '', 'ß', '\u2028'];
  const random = (depth: number): unknown => {
    const r = rand();
    if (depth > 3 || r < 0.3) return [null, undefined, true, false, 0, -1.5, 1e21, 'x', 'ü"\\\n', ''][Math.floor(rand() * 10)];
    if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => random(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [KEYS[Math.floor(rand() * KEYS.length)]!, random(depth + 1)]));
  };
  for (let i = 0; i < 2000; i++) {
    const value = random(0);
    assert.equal(canonicalJson(value), reference(value));
  }
});

test('entryDigestOfTexts (fields already serialised) equals entryDigest of the same body', () => {
  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rand() * values.length)]!;
  const documents = [null, { b: 1, a: [{ z: 'ü', y: null }] }, ['x', { 'urn:x:User': { k: true } }], 'text', 0, { '': '\u2028', 'é': -1.5 }];
  for (let i = 0; i < 500; i++) {
    const body: EntryBody = {
      actor: pick(['alice', 'ops "x"']),
      source: pick(['scim', 'import']),
      requestId: pick([null, 'req-1']),
      action: pick(['create', 'members.add']),
      resourceType: pick([null, 'User', 'Group']),
      resourceId: pick([null, '0f8fad5b-d9cb-469f-a165-70867728950e']),
      resourceName: pick([null, 'Zoë']),
      memberIds: pick([null, ['0f8fad5b-d9cb-469f-a165-70867728950e', '7c9e6679-7425-40de-944b-e07fc1f90ae7']]),
      before: pick(documents),
      after: pick(documents),
      changes: pick(documents),
      reason: pick(documents),
    };
    const texts = Object.fromEntries(Object.entries(body).map(([key, value]) => [key, canonicalJson(value)])) as EntryBodyTexts;
    assert.equal(entryDigestOfTexts(texts), entryDigest(body));
  }
});
