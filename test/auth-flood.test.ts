/**
 * Issue 14: each request with a wrong bearer token appended a journal row (300 rows for 300
 * requests) and a flood slowed authenticated writes (p50 7 ms → 43 ms). Refusals are now counted
 * per address and minute and limited per address before any database write (decision 0420).
 */
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../src/config/env.js';
import { PATCH_OP, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
before(async () => {
  // Behind a proxy on loopback: X-Forwarded-For from 127.0.0.1 names the client.
  server = await startTestServer({ trustProxy: ['loopback'] });
});
after(async () => {
  await server.close();
});

const FLOOD_ADDRESS = '203.0.113.7';
const FLOOD_REQUESTS = 300;
const FLOOD_ROUNDS = 6;
const FLOOD_PER_SECOND = 30;
/** Each quiet phase lasts as long as a burst, so both sides of a round get as many samples. */
const BASELINE_MS = ((FLOOD_REQUESTS / FLOOD_ROUNDS) * 1000) / FLOOD_PER_SECOND;

/**
 * The flood client, in a child process so the client's own work does not run on the server's
 * event loop. Each line "go" on its stdin sends the next `perBurst` requests with a wrong token
 * at about `perSecond`, `concurrency` at a time, then writes "sent" on stderr; when stdin ends it
 * prints how many requests got each status and exits.
 */
function floodClient(url: string, perBurst: number, perSecond: number, concurrency: number) {
  const script = `
    const [url, perBurst, perSecond, concurrency, address] = process.argv.slice(1).map((v, i) => (i === 0 || i === 4 ? v : Number(v)));
    const statuses = {};
    let sentSoFar = 0;
    async function burst() {
      let next = 0;
      const started = Date.now();
      async function worker() {
        for (;;) {
          const i = next++;
          if (i >= perBurst) return;
          const due = started + (i * 1000) / perSecond;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
          const res = await fetch(url, { headers: { authorization: 'Bearer wrong-token-' + ((sentSoFar + i) % 3), 'x-forwarded-for': address } });
          await res.arrayBuffer();
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        }
      }
      await Promise.all(Array.from({ length: concurrency }, worker));
      sentSoFar += perBurst;
      process.stderr.write('sent\\n');
    }
    let queue = Promise.resolve();
    process.stdin.on('data', (chunk) => { for (const line of chunk.toString().split('\\n')) if (line.trim() === 'go') queue = queue.then(burst); });
    process.stdin.on('end', () => queue.then(() => process.stdout.write(JSON.stringify(statuses))));
    process.stderr.write('ready\\n');
  `;
  const child = spawn(process.execPath, ['-e', script, url, String(perBurst), String(perSecond), String(concurrency), FLOOD_ADDRESS], { stdio: ['pipe', 'pipe', 'pipe'] });
  // An attacker's client runs on its own machine: here it yields the CPU to the server under test.
  try {
    if (child.pid) setPriority(child.pid, 19);
  } catch {
    // Not permitted here: the client then competes at normal priority, which only makes the test stricter.
  }
  let waiting: (() => void) | undefined;
  const ready = new Promise<void>((resolve) => (waiting = resolve));
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      if (line === 'ready' || line === 'sent') waiting?.();
      else process.stderr.write(line + '\n');
    }
  });
  const statuses = new Promise<Record<string, number>>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, number>) : reject(new Error(`flood client exited with ${code}`))));
  });
  return {
    ready,
    /** Sends one burst; resolves when all its requests were answered. */
    burst(): Promise<void> {
      const sent = new Promise<void>((resolve) => (waiting = resolve));
      child.stdin.write('go\n');
      return sent;
    },
    /** Ends the client: how many requests got each status. */
    finish(): Promise<Record<string, number>> {
      child.stdin.end();
      return statuses;
    },
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

async function authJournalCount(): Promise<number> {
  const { rows } = await server.db.knex.raw(`SELECT count(*)::int AS n FROM journal WHERE source = 'auth'`);
  return rows[0].n as number;
}

describe('a flood of refused credentials', () => {
  test(`${FLOOD_REQUESTS} requests with a wrong token add at most a few journal entries, and an authenticated PATCH's p50 stays within 1.5x`, async () => {
    const created = await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'flood.victim@example.com' } });
    assert.equal(created.status, 201);
    let n = 0;
    const timedPatch = async () => {
      const started = performance.now();
      const res = await server.request('PATCH', `/Users/${created.body.id}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: `t${n++}` }] } });
      const elapsed = performance.now() - started;
      assert.equal(res.status, 200, res.text);
      return elapsed;
    };
    const patchesFor = async (samples: number[], until: () => boolean) => {
      while (!until()) samples.push(await timedPatch());
    };
    for (let i = 0; i < 10; i++) await timedPatch(); // warm up: prepared statements, pool, JIT

    const journalBefore = await authJournalCount();
    // Phases without and with the flood alternate, so a drift in the machine's load (other work on
    // it) weighs on both sides alike: each round measures PATCHes for BASELINE_MS, then PATCHes
    // while a burst of 1/FLOOD_ROUNDS of the flood is answered, and compares the two p50s. The
    // test asserts the median of the rounds' ratios: a load spike from elsewhere on a shared
    // machine lands in one phase of one round and would otherwise decide the result.
    const client = floodClient(`${server.scimUrl}/Users`, FLOOD_REQUESTS / FLOOD_ROUNDS, FLOOD_PER_SECOND, 4);
    await client.ready;
    const baseline: number[] = [];
    const during: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < FLOOD_ROUNDS; round++) {
      const quiet: number[] = [];
      const flooded: number[] = [];
      const quietUntil = performance.now() + BASELINE_MS;
      await patchesFor(quiet, () => performance.now() >= quietUntil);
      let flooding = true;
      const burst = client.burst().finally(() => (flooding = false));
      await Promise.all([burst, patchesFor(flooded, () => !flooding)]);
      ratios.push(median(flooded) / median(quiet));
      baseline.push(...quiet);
      during.push(...flooded);
    }
    const statuses = await client.finish();

    // Every flood request was refused: 401 until the address's burst was used, 429 after.
    assert.equal((statuses['401'] ?? 0) + (statuses['429'] ?? 0), FLOOD_REQUESTS, JSON.stringify(statuses));
    assert.ok((statuses['429'] ?? 0) > 0, 'the address limit applied');
    assert.ok(during.length >= 10, `PATCHes measured during the flood: ${during.length}`);

    await server.refusals.journal.flush(true); // what the minute's end would write
    const added = (await authJournalCount()) - journalBefore;
    assert.ok(added <= 4, `journal entries added by ${FLOOD_REQUESTS} refusals: ${added}`);
    const { rows: entries } = await server.db.knex.raw(`SELECT reason FROM journal WHERE source = 'auth' ORDER BY id DESC LIMIT ?`, [added]);
    const counted = entries.reduce((sum: number, e: { reason: { count?: number } }) => sum + (e.reason.count ?? 1), 0);
    assert.equal(counted, FLOOD_REQUESTS, 'every refusal is counted: one entry at once, the rest in the tally');
    assert.ok(entries.every((e: { reason: { address: string } }) => e.reason.address === FLOOD_ADDRESS), 'counted under the forwarded client address');
    assert.ok(!JSON.stringify(entries).includes('wrong-token'), 'no credential in the journal');

    const ratio = median(ratios);
    console.log(
      `PATCH p50 without the flood ${median(baseline).toFixed(1)} ms, during it ${median(during).toFixed(1)} ms (${baseline.length} and ${during.length} samples, ${JSON.stringify(statuses)}); ` +
        `ratio per round ${ratios.map((r) => r.toFixed(2)).join(' ')}, median ${ratio.toFixed(2)}`,
    );
    assert.ok(ratio <= 1.5, `p50 during the flood is ${ratio.toFixed(2)}x the p50 without it (median of ${FLOOD_ROUNDS} rounds)`);
  });

  test('a valid token from a limited address is still served; X-Forwarded-For from an untrusted peer is ignored', async () => {
    // The flood address has used its burst (test above): its refusals are 429, its valid token is not.
    let refused = await server.request('GET', '/Users', { token: 'still-wrong', headers: { 'x-forwarded-for': FLOOD_ADDRESS } });
    // It may have earned a refusal or two back since; then it is limited again at once.
    for (let i = 0; i < 5 && refused.status === 401; i++) refused = await server.request('GET', '/Users', { token: 'still-wrong', headers: { 'x-forwarded-for': FLOOD_ADDRESS } });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal(refused.body.status, '429');
    const served = await server.request('GET', '/Users', { headers: { 'x-forwarded-for': FLOOD_ADDRESS } });
    assert.equal(served.status, 200);

    const direct = await startTestServer(); // ROSTER_TRUST_PROXY unset: the socket's peer is the client
    try {
      for (let i = 0; i < 3; i++) await direct.request('GET', '/Users', { token: 'wrong', headers: { 'x-forwarded-for': `198.51.100.${i}` } });
      await direct.refusals.journal.flush(true);
      const { rows } = await direct.db.knex.raw(`SELECT DISTINCT reason->>'address' AS address FROM journal WHERE source = 'auth'`);
      assert.deepEqual(rows.map((r: { address: string }) => r.address), ['127.0.0.1']);
    } finally {
      await direct.close();
    }
  });

  test('ROSTER_TRUST_PROXY: addresses, ranges, names and hop counts; "true" and garbage stop start-up', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    assert.deepEqual(loadConfig({ ROSTER_TRUST_PROXY: '10.0.0.0/8, loopback,::1' }).trustProxy, ['10.0.0.0/8', 'loopback', '::1']);
    assert.equal(loadConfig({ ROSTER_TRUST_PROXY: '2' }).trustProxy, 2);
    assert.throws(() => loadConfig({ ROSTER_TRUST_PROXY: 'true' }), (e: Error) => e instanceof ConfigError && /ROSTER_TRUST_PROXY: must not be "true"/.test(e.message));
    assert.throws(() => loadConfig({ ROSTER_TRUST_PROXY: '10.0.0.0/33' }), (e: Error) => e instanceof ConfigError && /ROSTER_TRUST_PROXY/.test(e.message));
    assert.deepEqual(loadConfig({ ROSTER_AUTH_FAILURE_LIMIT_PER_MINUTE: '0' }).authFailures, { perMinute: 0, burst: 20, journalWindowSeconds: 60 });
  });
});
