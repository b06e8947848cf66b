/**
 * The console at scale for `npm run bench` (section `console`, issue #16): a fresh database with
 * BENCH_CONSOLE_PEOPLE people (default 100,000) and ten journal entries each (1,000,000), seeded
 * in SQL (bench/console-seed.ts); Roster as a child process with the seed's policy file; a
 * sign-in with the bench token through the console's own form; then each main page requested
 * BENCH_CONSOLE_REQUESTS times (default 100) one after another, each time another person, entry
 * or search where the page takes one.
 *
 * Server time is the page's Server-Timing header (the console router's first middleware to the
 * rendered HTML); the client time on loopback (request sent to body read) is shown beside it.
 * Target: server time p95 under 150 ms on every page.
 *
 * Run alone: `npx tsx bench/console.ts` (DATABASE_URL as for the bench).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchPolicy, DEPARTMENTS, seedConsole, type ConsoleSeed } from './console-seed.js';
import { openDatabaseServer, type DatabaseServer } from './database.js';
import { startRoster } from './servers.js';

export interface ConsoleBenchRow {
  page: string;
  path: string;
  serverP50: number;
  serverP95: number;
  clientP50: number;
  clientP95: number;
  requests: number;
  /** Size of the last page, to see that each page rendered what it should. */
  kilobytes: number;
  failures: string[];
}

type Log = (line: string) => void;

const TARGET_P95_MS = 150;
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const envInt = (name: string, fallback: number, min: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return value;
};
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** The main pages, each a path per request (i: the request's number) over what the seed made. */
function pages(seed: ConsoleSeed): Array<{ page: string; path: (i: number) => string }> {
  const at = (list: readonly string[] | readonly number[], i: number) => list[i % list.length]!;
  const lastWeek = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 16);
  const q = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;
  return [
    { page: 'Overview', path: () => '/console' },
    { page: 'People: text search', path: (i) => `/console/people${q({ q: `person${1 + ((i * 7919) % seed.people)}` })}` },
    { page: 'People: SCIM filter', path: (i) => `/console/people${q({ filter: `${ENTERPRISE}:department eq "${DEPARTMENTS[i % DEPARTMENTS.length]}" and title sw "Eng"` })}` },
    { page: 'Person', path: (i) => `/console/people/${at(seed.samplePeople, i)}` },
    { page: 'Person as of last week', path: (i) => `/console/people/${at(seed.samplePeople, i)}/as-of${q({ at: lastWeek })}` },
    { page: 'Leaver receipt', path: (i) => `/console/people/${at(seed.leavers, i)}/receipt` },
    { page: 'Groups', path: () => '/console/groups' },
    { page: `Group of ${seed.people.toLocaleString('en-US')} (first page)`, path: () => `/console/groups/${seed.everyoneGroupId}` },
    { page: 'Journal', path: () => '/console/journal' },
    { page: 'Journal, filtered', path: (i) => `/console/journal${q(i % 2 ? { actor: 'okta', since: '3d' } : { user: `person${1 + ((i * 104_729) % seed.people)}@example.com` })}` },
    { page: 'Journal entry', path: (i) => `/console/journal/${at(seed.journalIds, i)}` },
    { page: 'Connectors', path: () => '/console/connectors' },
    { page: 'Policy', path: () => '/console/policy' },
  ];
}

/** Cookies from Set-Cookie headers, as one Cookie header value (name=value only). */
function cookies(response: Response, jar: Map<string, string>): string {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1));
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** Signs in through the console's token form, as a person would; returns the Cookie header. */
async function signIn(baseUrl: string, token: string): Promise<string> {
  const jar = new Map<string, string>();
  const form = await fetch(`${baseUrl}/console/sign-in`);
  const formToken = /name="_sign_in" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!formToken) throw new Error('the sign-in page has no _sign_in form token');
  const cookie = cookies(form, jar);
  const answer = await fetch(`${baseUrl}/console/sign-in/token`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie },
    body: new URLSearchParams({ _sign_in: formToken, token, next: '/console' }).toString(),
  });
  await answer.arrayBuffer();
  if (answer.status !== 303 && answer.status !== 302) throw new Error(`token sign-in answered ${answer.status}`);
  return cookies(answer, jar);
}

async function measurePage(baseUrl: string, cookie: string, page: string, pathOf: (i: number) => string, requests: number): Promise<ConsoleBenchRow> {
  const server: number[] = [];
  const client: number[] = [];
  const failures: string[] = [];
  let bytes = 0;
  // A few unmeasured requests first: the first use of each query plan and module costs extra.
  for (let i = -3; i < requests; i++) {
    const started = performance.now();
    const response = await fetch(`${baseUrl}${pathOf(i + 3)}`, { headers: { Cookie: cookie }, redirect: 'manual' });
    bytes = (await response.arrayBuffer()).byteLength;
    const elapsed = performance.now() - started;
    if (response.status !== 200) {
      if (failures.length < 3) failures.push(`${response.status} for ${pathOf(i + 3)}`);
      continue;
    }
    if (i < 0) continue;
    const timing = /app;dur=([\d.]+)/.exec(response.headers.get('server-timing') ?? '');
    if (!timing) throw new Error(`${page}: no Server-Timing header`);
    server.push(Number(timing[1]));
    client.push(elapsed);
  }
  server.sort((a, b) => a - b);
  client.sort((a, b) => a - b);
  const p = (list: number[], q: number) => (list.length ? percentile(list, q) : NaN);
  return { page, path: pathOf(0), serverP50: p(server, 50), serverP95: p(server, 95), clientP50: p(client, 50), clientP95: p(client, 95), requests: server.length, kilobytes: bytes / 1024, failures };
}

export async function runConsoleBench(dbServer: DatabaseServer, log: Log): Promise<ConsoleBenchRow[]> {
  const people = envInt('BENCH_CONSOLE_PEOPLE', 100_000, 100);
  const requests = envInt('BENCH_CONSOLE_REQUESTS', 100, 1);
  log(`== console: ${people.toLocaleString('en-US')} people, ${(people * 10).toLocaleString('en-US')} journal entries, ${requests} requests per page`);
  const database = await dbServer.createDatabase('console');
  const tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-bench-console-'));
  const stops: Array<() => Promise<void>> = [() => database.drop(), () => fs.rm(tmpDir, { recursive: true, force: true })];
  try {
    const seed = await seedConsole(database.url, people, log);
    log(`  seeded ${seed.people.toLocaleString('en-US')} people, ${seed.journalEntries.toLocaleString('en-US')} journal entries`);
    const policyFile = path.join(tmpDir, 'bench-policy.yaml');
    await fs.writeFile(policyFile, benchPolicy());
    const token = `bench-${randomBytes(24).toString('hex')}`;
    process.env.ROSTER_POLICY_FILE = policyFile;
    const roster = await startRoster({ databaseUrl: database.url, bootstrapToken: token, cursorSecret: randomBytes(32).toString('hex') });
    delete process.env.ROSTER_POLICY_FILE;
    stops.push(() => roster.stop());
    log(`  Roster ready at ${roster.baseUrl} (pid ${roster.pid}); load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const cookie = await signIn(roster.baseUrl, token);
    const rows: ConsoleBenchRow[] = [];
    for (const { page, path: pathOf } of pages(seed)) {
      const row = await measurePage(roster.baseUrl, cookie, page, pathOf, requests);
      log(`  ${page} (${row.kilobytes.toFixed(0)} kB): server p50 ${row.serverP50.toFixed(1)} ms p95 ${row.serverP95.toFixed(1)} ms | client p50 ${row.clientP50.toFixed(1)} ms p95 ${row.clientP95.toFixed(1)} ms${row.failures.length ? ` | failed: ${row.failures.join('; ')}` : ''}`);
      rows.push(row);
    }
    return rows;
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log(`cleanup failed: ${(error as Error).message}`));
  }
}

export function renderConsoleReport(rows: readonly ConsoleBenchRow[]): string {
  const ms = (n: number) => (Number.isNaN(n) ? '—' : n.toFixed(1));
  const header = ['Console page', 'Server p50 ms', 'Server p95 ms', 'Client p50 ms', 'Client p95 ms', 'Requests', 'Target', 'Result'];
  const body = rows.map((r) => {
    const pass = r.failures.length === 0 && r.serverP95 < TARGET_P95_MS;
    return [r.page, ms(r.serverP50), ms(r.serverP95), ms(r.clientP50), ms(r.clientP95), String(r.requests) + (r.failures.length ? ` (failed: ${r.failures.join('; ')})` : ''), `server p95 < ${TARGET_P95_MS} ms`, pass ? 'PASS' : 'FAIL'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 1 && i <= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const passed = body.filter((b) => b[7] === 'PASS').length;
  return [
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...body.map(line),
    '',
    'Server: the Server-Timing header (console router start to rendered HTML). Client: request sent to body read, on loopback, one request at a time.',
    `Targets: ${passed}/${rows.length} pass.`,
  ].join('\n');
}

// Standalone: npx tsx bench/console.ts
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = Date.now();
  const log = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const dbServer = await openDatabaseServer(log);
  try {
    const rows = await runConsoleBench(dbServer, log);
    process.stdout.write(`\n${renderConsoleReport(rows)}\n`);
  } finally {
    await dbServer.stop();
  }
}
