/**
 * The cost of pushing one change (issue 18, decision 0705): an update of a user that is already on
 * the target takes two database round trips in the job besides the request itself: BEGIN, the
 * object's lock and its sync state in one, and the link with the push's journal outbox row and the
 * COMMIT that releases the lock in the other. The promises stay: the link and the journal entry are
 * committed, and the entry reaches the hash chain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkGate } from '../src/sync/connector-state.js';
import { JournalBatcher, PushJournal } from '../src/sync/push-journal.js';
import { syncOne } from '../src/sync/sync-one.js';
import { startFaultTarget } from './support/fault-target.js';
import { PATCH_OP, USER_SCHEMA } from './support/server.js';
import { pendingJobs, startRosterA, waitFor } from './support/sync-harness.js';

test('an update of a linked user: two round trips (lock + state, link + outbox row + COMMIT), both committed, the entry on the chain', async () => {
  const t = await startFaultTarget();
  const a = await startRosterA([{ name: 'target', baseUrl: t.url, auth: { type: 'bearer', tokenEnv: 'TARGET_TOKEN' } }], { TARGET_TOKEN: t.token });
  try {
    const created = await a.server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'cost@example.com', title: 'Before' } });
    assert.equal(created.status, 201, created.text);
    const id = created.body.id as string;
    await waitFor(() => t.userByName('cost@example.com'), 'the user on the target');
    await waitFor(async () => (await pendingJobs(a.server.db.knex)) === 0, 'the queue drained');
    await a.stopWorker();

    const patched = await a.server.request('PATCH', `/Users/${id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'After' }] } });
    assert.equal(patched.status, 200, patched.text);

    const connector = a.connectors.get('target')!;
    // The appender moves outbox rows on a pool of its own, so the count below is the job's alone.
    const batcher = new JournalBatcher(a.server.db.knex, connector.name);
    const journal = new PushJournal(a.syncDb, connector.name, 'job-round-trips', batcher);
    await checkGate(a.syncDb, connector.name, connector.config.circuit.openForMs); // warms the gate cache
    const statements: string[] = [];
    const onQuery = (query: { sql: string }) => statements.push(query.sql);
    a.syncDb.on('query', onQuery);
    const result = await syncOne({ db: a.syncDb, connector, type: 'User', id, attempt: 0, requestId: 'job-round-trips', journal });
    a.syncDb.off('query', onQuery);
    await journal.flush();
    assert.deepEqual(result, { kind: 'done' });

    // The once-a-second last_success_at write is the only other statement a success may make.
    const own = statements.filter((sql) => !sql.includes('sync_connectors'));
    assert.equal(own.length, 2, own.join('\n---\n'));
    assert.match(own[0]!, /^BEGIN;[\s\S]*pg_try_advisory_xact_lock[\s\S]*sync_links/);
    assert.match(own[1]!, /INSERT INTO sync_links[\s\S]*INSERT INTO journal_outbox[\s\S]*;\s*COMMIT$/);

    assert.equal(t.userByName('cost@example.com')?.title, 'After');
    const link = await a.server.db.knex('sync_links').where({ connector: 'target', resource_type: 'User', resource_id: id }).first();
    assert.equal(link.acknowledged.title, 'After');
    await batcher.drained();
    const { rows } = await a.server.db.knex.raw(`SELECT changes FROM journal WHERE action = 'sync.push' AND request_id = 'job-round-trips'`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].changes.method, 'PATCH');
    assert.equal(rows[0].changes.outcome, 'ok');
    const { rows: left } = await a.server.db.knex.raw(`SELECT count(*)::int AS n FROM journal_outbox`);
    assert.equal(left[0].n, 0);
  } finally {
    await a.close();
    await t.close();
  }
});
