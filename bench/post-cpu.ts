/**
 * CPU of one POST /Users with the repo's policy.yaml, in process (decision 0702): a test server
 * composed as `serve` composes it, the bench's Engineering joiner posted 400 times one at a time
 * and 400 times ten at a time, after 100 unmeasured. Prints Node's CPU per POST (the server and
 * its fetch client share this process) and PostgreSQL's (its backends for this database, from
 * /proc, so Linux only). Less moved by a loaded machine than `npm run bench`'s req/s; compare two
 * commits by running it alternately in each.
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/post-cpu.ts
 */
import { readFileSync } from 'node:fs';
import { startTestServer } from '../test/support/server.js';
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const server = await startTestServer({ policy: readFileSync('policy.yaml', 'utf8') });
const body = (n: number) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENT], userName: `u${n}@example.com`, externalId: `e${n}`,
  name: { givenName: 'B', familyName: `U${n}`, formatted: `B U${n}` }, displayName: `B U${n}`, emails: [{ value: `u${n}@example.com`, type: 'work', primary: true }], active: true,
  [ENT]: { employeeNumber: `B${n}`, department: 'Engineering' } });
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const tick = 100;
async function pgCpuMs(): Promise<number> {
  const { rows } = await server.db.knex.raw(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`);
  let total = 0;
  for (const { pid } of rows) {
    try {
      // After the command name: field 14 (utime) and 15 (stime) of proc(5) are [11] and [12] here.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * (1000 / tick);
    } catch {
      // the backend ended between the two reads
    }
  }
  return total;
}
let n = 0;
const post = async () => { const r = await server.request('POST', '/scim/v2/Users', { body: body(++n) }); if (r.status !== 201) throw new Error(r.text); };
for (let i = 0; i < 100; i++) await post();
for (const concurrency of [1, 10]) {
  const N = 400;
  const pg0 = await pgCpuMs(); const c0 = process.cpuUsage(); const t0 = performance.now();
  let left = N;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (left-- > 0) await post(); }));
  const wall = performance.now() - t0; const c = process.cpuUsage(c0); const pg = (await pgCpuMs()) - pg0;
  console.log(`c=${concurrency} ${N} POSTs: ${(N / wall * 1000).toFixed(0)}/s; node (server+client) ${((c.user + c.system) / 1000 / N).toFixed(2)} ms/POST; PostgreSQL ${(pg / N).toFixed(2)} ms/POST`);
}
await server.close(); await server.db.drop();
