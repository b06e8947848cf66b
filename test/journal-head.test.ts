/**
 * Issue 14, evidence with a hole: someone with database rights could delete the newest entries
 * and rewind `journal_chain`, or append an entry whose hash they computed with Roster's own
 * functions, and `journal verify` still said intact. Now Roster publishes signed heads outside
 * PostgreSQL and seals each entry with a key the database does not hold (decision 0422).
 * Each tampering test gets its own database: tampering breaks that chain for good.
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import { loadConfig, ConfigError } from '../src/config/env.js';
import { loadExpectedHeads, parseHeadValue } from '../src/journal/expected-heads.js';
import { chainLink, entryDigest, type EntryBody } from '../src/journal/hash.js';
import { HeadPublisher } from '../src/journal/head-publisher.js';
import type { HeadSink } from '../src/config/head-sink.js';
import { HEADS_FILE_IN_DIRECTORY, publishHead } from '../src/journal/head-sinks.js';
import type { PublishedHead } from '../src/journal/head.js';
import { signingKey, type JournalKey } from '../src/journal/key.js';
import { useJournalSealKey } from '../src/journal/seal.js';
import { verifyJournal } from '../src/journal/verify.js';
import { createUser, patchUser } from '../src/resources/users.js';
import { WritePath } from '../src/write/write-path.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { PATCH_OP, USER_SCHEMA } from './support/server.js';

const JOURNAL_KEY = 'head-test-journal-key-0123456789abcdef0123456789';
const run = promisify(execFile);

const cleanups: Array<() => Promise<void>> = [];
afterEach(() => useJournalSealKey(undefined));
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Setup {
  db: TestDatabase;
  key: JournalKey;
  sink: HeadSink;
  publisher: HeadPublisher;
}

/** A database with entries written by Roster (sealed), and a file sink in a temporary folder. */
async function setup(sinkOverride?: HeadSink): Promise<Setup> {
  const db = await createTestDatabase();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'roster-heads-'));
  cleanups.push(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });
  const key = await signingKey(db.knex, JOURNAL_KEY);
  useJournalSealKey(key);
  const writePath = new WritePath(db.knex);
  const actor = { name: 'head-test', source: 'cli' as const, requestId: 'req-head-test' };
  for (let i = 0; i < 4; i++) {
    const row = await writePath.run(actor, (c) => createUser(c, { schemas: [USER_SCHEMA], userName: `head${i}@example.com` }));
    await writePath.run(actor, (c) => patchUser(c, row.id, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Analyst' }] }, {}));
  }
  const sink = sinkOverride ?? { kind: 'file', path: dir };
  return { db, key, sink, publisher: new HeadPublisher(db.knex, sink, key, 3600) };
}

/** Runs SQL the way someone with database access would, with Roster's triggers switched off. */
async function asIntruder(knex: Knex, work: (tx: Knex.Transaction) => Promise<void>): Promise<void> {
  await knex.transaction(async (tx) => {
    await tx.raw(`SET LOCAL session_replication_role = replica`);
    await work(tx);
  });
}

/** Deletes the newest `count` entries and rewinds the chain head to the entry before them. */
async function truncateAndRewind(knex: Knex, count: number): Promise<void> {
  await asIntruder(knex, async (tx) => {
    const { rows } = await tx.raw(`SELECT seq, hash FROM journal ORDER BY seq DESC OFFSET ? LIMIT 1`, [count]);
    await tx.raw(`DELETE FROM journal WHERE seq > ?`, [rows[0].seq]);
    await tx.raw(`UPDATE journal_chain SET seq = ?, hash = ? WHERE singleton`, [rows[0].seq, rows[0].hash]);
  });
}

/** Appends an entry the way an intruder can: digest and link computed with Roster's own functions. */
async function appendForged(knex: Knex, seal: string | null = null): Promise<void> {
  await asIntruder(knex, async (tx) => {
    const { rows } = await tx.raw(`SELECT seq, hash FROM journal_chain WHERE singleton`);
    const head = rows[0] as { seq: string; hash: string };
    const seq = Number(head.seq) + 1;
    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    const body: EntryBody = {
      actor: 'alice-admin', source: 'scim', requestId: 'forged-1', action: 'delete', resourceType: 'User',
      resourceId: null, resourceName: 'head0@example.com', memberIds: null, before: null, after: null, changes: null, reason: null,
    };
    const hash = chainLink(head.hash, seq, at.getTime(), entryDigest(body));
    await tx.raw(
      `INSERT INTO journal (seq, prev_hash, hash, chain_version, at, actor, source, request_id, action, resource_type, resource_name, seal)
       VALUES (?, ?, ?, 2, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [seq, head.hash, hash, at, body.actor, body.source, body.requestId, body.action, body.resourceType, body.resourceName, seal],
    );
    await tx.raw(`UPDATE journal_chain SET seq = ?, hash = ? WHERE singleton`, [seq, hash]);
  });
}

async function verifyAgainstSink({ db, sink }: Setup) {
  const loaded = await loadExpectedHeads(db.knex, { kind: 'sink', sink }, { keySecret: JOURNAL_KEY, secrets: undefined });
  assert.ok('heads' in loaded, JSON.stringify(loaded));
  return verifyJournal(db.knex, { keySecret: JOURNAL_KEY, expectedHeads: loaded.heads });
}

describe('journal heads kept outside the database', () => {
  test('ROSTER_JOURNAL_HEAD_SINK takes a path, a file: URL or an http(s) URL; --expect-head values', () => {
    assert.deepEqual(loadConfig({ ROSTER_JOURNAL_HEAD_SINK: 'https://audit.example.com/heads' }).journal.headSink, { kind: 'http', url: 'https://audit.example.com/heads' });
    assert.deepEqual(loadConfig({ ROSTER_JOURNAL_HEAD_SINK: 'file:///var/audit/heads.jsonl' }).journal.headSink, { kind: 'file', path: '/var/audit/heads.jsonl' });
    assert.equal(loadConfig({ ROSTER_JOURNAL_HEAD_SINK: '/var/audit' }).journal.headSink?.kind, 'file');
    assert.equal(loadConfig({}).journal.headIntervalSeconds, 60);
    assert.throws(() => loadConfig({ ROSTER_JOURNAL_HEAD_SINK: 's3://bucket/heads' }), (e: Error) => e instanceof ConfigError && /ROSTER_JOURNAL_HEAD_SINK/.test(e.message));
    assert.throws(() => loadConfig({ ROSTER_JOURNAL_HEAD_INTERVAL_SECONDS: '0' }), ConfigError);
    assert.deepEqual(loadConfig({ ROSTER_JOURNAL_HEAD_SINK: 'https://audit.example.com/heads', ROSTER_JOURNAL_HEAD_SINK_AUTHORIZATION: 'Bearer x' }).journal.headSink, {
      kind: 'http',
      url: 'https://audit.example.com/heads',
      authorization: 'Bearer x',
    });
    assert.throws(
      () => loadConfig({ ROSTER_JOURNAL_HEAD_SINK: '/var/audit', ROSTER_JOURNAL_HEAD_SINK_AUTHORIZATION: 'Bearer x' }),
      (e: Error) => e instanceof ConfigError && /ROSTER_JOURNAL_HEAD_SINK_AUTHORIZATION is sent to an http\(s\) head sink/.test(e.message),
    );
    assert.deepEqual(parseHeadValue(`12:${'ab'.repeat(32)}`), { seq: 12, hash: 'ab'.repeat(32) });
    assert.equal(parseHeadValue('12:abc'), undefined);
  });

  test('a deleted tail with a rewound chain head verifies on its own, but not against the published head', async () => {
    const s = await setup();
    const published = await s.publisher.publishIfMoved();
    assert.ok(published, 'the first head is published');
    assert.equal(await s.publisher.publishIfMoved(), undefined, 'an unchanged head is not published again');
    const lines = (await readFile(path.join((s.sink as { path: string }).path, HEADS_FILE_IN_DIRECTORY), 'utf8')).trim().split('\n');
    assert.equal(lines.length, 1);
    assert.deepEqual(JSON.parse(lines[0]!).seq, published.seq);

    const clean = await verifyAgainstSink(s);
    assert.equal(clean.ok, true, clean.finding?.message);
    assert.equal(clean.headsChecked, 1);
    assert.equal(clean.sealed, clean.checked, 'every entry Roster wrote is sealed');

    await truncateAndRewind(s.db.knex, 3);
    const alone = await verifyJournal(s.db.knex, { keySecret: JOURNAL_KEY });
    assert.equal(alone.ok, true, 'without a head kept elsewhere the rewound chain looks intact (the hole this closes)');

    const report = await verifyAgainstSink(s);
    assert.equal(report.ok, false);
    assert.equal(report.finding?.kind, 'rewound');
    assert.match(report.finding!.message, new RegExp(`the newest 3 entries were deleted and the chain head rewound: the journal ends at position ${published.seq - 3}, but the head published at .* records position ${published.seq}`));

    // The same check with the head given as a value (copied from a ticket, say).
    const byValue = await verifyJournal(s.db.knex, { keySecret: JOURNAL_KEY, expectedHeads: [{ seq: published.seq, hash: published.hash, sealedFrom: null, origin: 'the head given on the command line' }] });
    assert.equal(byValue.finding?.kind, 'rewound');
  });

  test('an entry appended with a hash computed by Roster’s own functions is found: it has no valid seal', async () => {
    const s = await setup();
    await s.publisher.publishIfMoved();
    await appendForged(s.db.knex);
    const report = await verifyAgainstSink(s);
    assert.equal(report.ok, false);
    assert.equal(report.finding?.kind, 'unsealed');
    assert.match(report.finding!.message, /alice-admin: delete User "head0@example.com".* has no seal, although every entry from position 1 on is sealed: it was not written by Roster/);
  });

  test('a forged entry carrying a seal copied from a real one, or a replayed real entry, is found too', async () => {
    const s = await setup();
    await s.publisher.publishIfMoved();
    const { rows } = await s.db.knex.raw(`SELECT seal FROM journal ORDER BY seq DESC LIMIT 1`);
    await appendForged(s.db.knex, rows[0].seal);
    const forged = await verifyAgainstSink(s);
    assert.equal(forged.finding?.kind, 'unsealed');
    assert.match(forged.finding!.message, /carries a seal that does not match its content/);

    const t = await setup();
    await asIntruder(t.db.knex, async (tx) => {
      // A copy of the newest genuine entry, relinked at the end of the chain.
      const { rows: [last] } = await tx.raw(`SELECT * FROM journal ORDER BY seq DESC LIMIT 1`);
      const seq = Number(last.seq) + 1;
      const body: EntryBody = {
        actor: last.actor, source: last.source, requestId: last.request_id, action: last.action, resourceType: last.resource_type, resourceId: last.resource_id,
        resourceName: last.resource_name, memberIds: last.member_ids, before: last.before, after: last.after, changes: last.changes, reason: last.reason,
      };
      const hash = chainLink(last.hash, seq, last.at.getTime(), entryDigest(body));
      await tx.raw(
        `INSERT INTO journal (seq, prev_hash, hash, chain_version, at, actor, source, request_id, action, resource_type, resource_id, resource_name, member_ids, before, after, changes, reason, seal)
         SELECT ?, ?, ?, 2, at, actor, source, request_id, action, resource_type, resource_id, resource_name, member_ids, before, after, changes, reason, seal FROM journal WHERE seq = ?`,
        [seq, last.hash, hash, last.seq],
      );
      await tx.raw(`UPDATE journal_chain SET seq = ?, hash = ? WHERE singleton`, [seq, hash]);
    });
    const replayed = await verifyJournal(t.db.knex, { keySecret: JOURNAL_KEY });
    assert.equal(replayed.finding?.kind, 'unsealed');
    assert.match(replayed.finding!.message, /repeats the seal of entry/);
  });

  test('an HTTP sink receives each head by POST with its Authorization header; verify reads them back by GET; an altered head is refused', async () => {
    const received: string[] = [];
    let tamper = false;
    const authorization = 'Bearer head-sink-secret';
    const server: Server = createServer((req, res) => {
      if (req.headers.authorization !== authorization) {
        res.writeHead(401).end();
        return;
      }
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          received.push(body);
          res.writeHead(204).end();
        });
        return;
      }
      const lines = tamper ? received.map((line) => line.replace(/"seq":(\d+)/, (_m, n: string) => `"seq":${Number(n) + 5}`)) : received;
      res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(lines.join('\n'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}/heads`;
    await assert.rejects(publishHead({ kind: 'http', url }, { seq: 1, hash: 'ab'.repeat(32) } as PublishedHead), /the head sink answered 401/, 'the receiver refuses a head without the header');
    const s = await setup({ kind: 'http', url, authorization });

    await s.publisher.publishIfMoved();
    const writePath = new WritePath(s.db.knex);
    await writePath.run({ name: 'head-test', source: 'cli', requestId: 'req-more' }, (c) => createUser(c, { schemas: [USER_SCHEMA], userName: 'later@example.com' }));
    await s.publisher.stop(); // publishes the moved head once more
    assert.equal(received.length, 2);
    assert.equal((await verifyAgainstSink(s)).headsChecked, 2);

    await truncateAndRewind(s.db.knex, 1);
    const report = await verifyAgainstSink(s);
    assert.equal(report.finding?.kind, 'rewound');

    tamper = true;
    const loaded = await loadExpectedHeads(s.db.knex, { kind: 'sink', sink: s.sink }, { keySecret: JOURNAL_KEY, secrets: undefined });
    assert.ok('problem' in loaded);
    assert.match(loaded.problem, /has an invalid signature: the sink was altered/);
  });

  test('`roster journal verify --expect-head` exits 1 naming the rewound head, and 0 while the chain reaches it', async () => {
    const s = await setup();
    const published = (await s.publisher.publishIfMoved())!;
    const heads = path.join((s.sink as { path: string }).path, HEADS_FILE_IN_DIRECTORY);
    const roster = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, DATABASE_URL: s.db.url, LOG_LEVEL: 'error', ROSTER_JOURNAL_KEY: JOURNAL_KEY }, timeout: 120_000 }).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
    const ok = await roster(['journal', 'verify', '--expect-head', heads]);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /The chain reaches all 1 head\(s\) kept outside the database/);
    await truncateAndRewind(s.db.knex, 2);
    const failed = await roster(['journal', 'verify', '--expect-head', `${published.seq}:${published.hash}`]);
    assert.equal(failed.code, 1, failed.stdout);
    assert.match(failed.stdout, /deleted and the chain head rewound/);
    // A heads file with a line that is not a head is itself evidence of tampering.
    await writeFile(heads, (await readFile(heads, 'utf8')) + 'not a head\n');
    const altered = await roster(['journal', 'verify', '--expect-head', `file:${heads}`]);
    assert.equal(altered.code, 1);
    assert.match(altered.stdout, /not journal heads: it was altered/);
  });
});
