/**
 * Connector configuration, profiles and the small rules of outbound sync: invalid files stop
 * start-up naming the connector, the key and the fix; AWS mapping; minimal PATCH; Retry-After;
 * OAuth client credentials against a real token endpoint on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { checkAwsUser, mapAwsUser } from '../connectors/aws-iam-identity-center/profile.js';
import { mapGenericUser } from '../connectors/generic/profile.js';
import { createAuthProvider } from '../connectors/scim/auth.js';
import { ScimClient } from '../connectors/scim/client.js';
import { driftedAttributes } from '../connectors/scim/compare.js';
import { attributeOperations } from '../connectors/scim/patch.js';
import { ConfigError, loadConfig } from '../src/config/env.js';
import { loadConnectorsFile, parseConnectors } from '../src/sync/config.js';
import { backoffDelay } from '../src/lib/backoff.js';
import { parseRetryAfter } from '../src/sync/retry.js';
import { startFaultTarget } from './support/fault-target.js';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const base = { name: 'slack', baseUrl: 'https://app.example.com/scim/v2', auth: { type: 'bearer', tokenEnv: 'SLACK_TOKEN' } };
const env = { SLACK_TOKEN: 'xoxp-secret' };
const problems = (document: unknown, e: Record<string, string> = env) => {
  try {
    parseConnectors(document, e);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail('expected a ConfigError');
};

test('a valid connector gets its defaults and its secret from the environment', () => {
  const [c] = parseConnectors({ connectors: [base] }, env);
  assert.equal(c!.profile, 'generic');
  assert.equal(c!.matchOn, 'userName');
  assert.equal(c!.deprovision, 'disable');
  assert.equal(c!.rateLimit.concurrency, 4);
  assert.equal(c!.dryRun, false);
  assert.deepEqual(c!.auth, { type: 'bearer', token: 'xoxp-secret' });
  assert.equal(loadConfig({}).connectorsFile, undefined, 'unset = no connectors');
  assert.deepEqual(loadConnectorsFile(undefined), []);
});

test('invalid configuration names the connector, the key and the fix', () => {
  assert.match(problems({ connectors: [{ ...base, auth: { type: 'bearer', tokenEnv: 'MISSING' } }] }), /connector slack: auth\.tokenEnv: environment variable MISSING is not set; export it/);
  assert.match(problems({ connectors: [{ ...base, baseUrl: 'http://app.example.com/scim' }] }), /connector slack: baseUrl: must use https/);
  assert.match(problems({ connectors: [{ ...base, users: { filter: 'nosuch eq "x"' } }] }), /connector slack: users\.filter: unknown attribute "nosuch"/);
  assert.match(problems({ connectors: [{ ...base, profile: 'okta-ish' }] }), /connector slack: profile: /);
  assert.match(problems({ connectors: [{ ...base, deprovision: 'archive' }] }), /connector slack: deprovision/);
  assert.match(problems({ connectors: [{ ...base, tokne: 'typo' }] }), /connector slack/);
  assert.match(problems({ connectors: [base, base] }), /connector slack: name: is used by another connector/);
  assert.match(problems({ connectors: [{ ...base, groups: { names: ['A'], all: true } }] }), /groups: give exactly one of/);
  assert.match(problems({ connectors: [{ ...base, timeout: 'soon' }] }), /timeout: must be a duration/);
  const secretInMessage = problems({ connectors: [{ ...base, baseUrl: 'ftp://x' }] });
  assert.ok(!secretInMessage.includes('xoxp-secret'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-cfg-'));
  fs.writeFileSync(path.join(dir, 'bad.yaml'), 'connectors: [\n');
  assert.throws(() => loadConnectorsFile(path.join(dir, 'bad.yaml')), /is not valid YAML at line/);
  assert.throws(() => loadConnectorsFile(path.join(dir, 'missing.yaml')), /cannot read .*ENOENT.*fix the path/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the generic profile pushes core and enterprise attributes, with Roster id as externalId, never a password', () => {
  const mapped = mapGenericUser(
    { userName: 'a@x', externalId: 'from-entra', password: 'p', title: 'T', [ENTERPRISE]: { department: 'D' }, 'urn:ietf:params:scim:schemas:extension:roster:2.0:User': { costCenter: 'x' } },
    'local-id',
  );
  assert.deepEqual(mapped, { userName: 'a@x', title: 'T', [ENTERPRISE]: { department: 'D' }, externalId: 'local-id', schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE] });
});

test('the AWS profile sends single-valued attributes and checks what AWS requires', () => {
  const mapped = mapAwsUser(
    {
      userName: 'a@x',
      name: { givenName: 'Ann', familyName: 'Lee' },
      emails: [{ value: 'home@x', type: 'home' }, { value: 'work@x', type: 'work', primary: true, display: 'W' }],
      phoneNumbers: [{ value: '1' }, { value: '2' }],
      ims: [{ value: 'x' }],
      [ENTERPRISE]: { department: 'D', manager: { value: 'm', displayName: 'Boss' } },
    },
    'local-id',
  );
  assert.deepEqual(mapped.emails, [{ value: 'work@x', type: 'work', primary: true }]);
  assert.deepEqual(mapped.phoneNumbers, [{ value: '1' }]);
  assert.equal(mapped.ims, undefined);
  assert.equal(mapped.displayName, 'Ann Lee', 'derived: AWS requires displayName');
  assert.deepEqual(mapped[ENTERPRISE], { department: 'D', manager: { value: 'm' } });
  assert.equal(checkAwsUser(mapped), undefined);
  assert.match(checkAwsUser(mapAwsUser({ userName: 'b@x' }, 'id'))!, /requires name\.givenName, name\.familyName, displayName/);
});

test('PATCH carries only what changed; drift compares only what Roster sends', () => {
  assert.deepEqual(attributeOperations({ userName: 'a', title: 'x', name: { givenName: 'A', familyName: 'B' }, nickName: 'n' }, { userName: 'a', title: 'y', name: { givenName: 'A', familyName: 'C' } }), [
    { op: 'replace', path: 'title', value: 'y' },
    { op: 'replace', path: 'name.familyName', value: 'C' },
    { op: 'remove', path: 'nickName' },
  ]);
  assert.deepEqual(attributeOperations({ schemas: ['a'], title: 'x' }, { schemas: ['b'], title: 'x' }), []);
  assert.deepEqual(driftedAttributes({ title: 'x', emails: [{ value: 'a', type: 'work' }] }, { id: '1', meta: {}, title: 'x', emails: [{ value: 'a', type: 'work', display: 'A', primary: true }] }), []);
  assert.deepEqual(driftedAttributes({ title: 'x', emails: [{ value: 'a' }] }, { title: 'y', emails: [{ value: 'b' }] }), ['title', 'emails']);
});

test('Retry-After as seconds or a date; back-off grows with jitter and stays capped', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString(), Date.now()) !== undefined, true);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter('999999'), 3_600_000);
  assert.equal(backoffDelay(0, 1000, 60_000, () => 1), 1000);
  assert.equal(backoffDelay(3, 1000, 60_000, () => 1), 8000);
  assert.equal(backoffDelay(20, 1000, 60_000, () => 1), 60_000);
  assert.equal(backoffDelay(3, 1000, 60_000, () => 0), 250, 'never zero: a floor of base/4');
});

test('OAuth client credentials: a token is minted, cached, and re-minted after a 401', async () => {
  let minted = 0;
  let current = '';
  const tokenServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      const ok = req.headers.authorization === `Basic ${Buffer.from('client:s3cret').toString('base64')}` && body.includes('grant_type=client_credentials');
      if (!ok) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: 'invalid_client' }));
      }
      minted++;
      current = `at-${minted}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: current, token_type: 'Bearer', expires_in: 3600 }));
    });
  });
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
  const tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`;
  const target = await startFaultTarget({ token: 'at-1' });
  try {
    const auth = createAuthProvider({ type: 'oauth-client-credentials', tokenUrl, clientId: 'client', clientSecret: 's3cret' });
    const client = new ScimClient({ baseUrl: target.url, timeoutMs: 2000, auth, maxSockets: 2 });
    assert.equal((await client.send({ method: 'GET', path: '/Users' })).status, 200);
    assert.equal((await client.send({ method: 'GET', path: '/Users' })).status, 200);
    assert.equal(minted, 1, 'cached');
    // The target now wants a new token (rotated): the 401 triggers one re-mint and a retry.
    target.token = 'at-2';
    assert.equal((await client.send({ method: 'GET', path: '/Users' })).status, 200);
    assert.equal(minted, 2, 're-minted once after the 401');
    const wrong = createAuthProvider({ type: 'oauth-client-credentials', tokenUrl, clientId: 'client', clientSecret: 'nope' });
    await assert.rejects(wrong.authorization(), /token endpoint answered 401 invalid_client; check auth\.clientIdEnv/);
  } finally {
    await target.close();
    await new Promise<void>((resolve) => tokenServer.close(() => resolve()));
  }
});

test('examples/connectors.yaml is a valid connectors file', () => {
  const file = path.resolve(HERE, '../examples/connectors.yaml');
  const connectors = loadConnectorsFile(file, { SLACK_SCIM_TOKEN: 'a', AWS_SCIM_TOKEN: 'b', WIKI_CLIENT_ID: 'c', WIKI_CLIENT_SECRET: 'd' });
  assert.deepEqual(connectors.map((c) => c.name), ['slack', 'aws', 'wiki']);
  assert.equal(connectors[1]!.profile, 'aws-iam-identity-center');
});

test('serve and sync worker stop on a bad connectors file before they touch the database', { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-cfg-'));
  const file = path.join(dir, 'connectors.yaml');
  fs.writeFileSync(file, 'connectors:\n  - name: slack\n    baseUrl: https://app.example.com/scim/v2\n    auth: { type: bearer, tokenEnv: SLACK_TOKEN_NOT_SET }\n');
  // Nothing listens on port 1: a command that opened the database first would fail with a connection error instead.
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', ROSTER_CONNECTORS_FILE: file, LOG_LEVEL: 'error' };
  delete env.SLACK_TOKEN_NOT_SET;
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: path.resolve(HERE, '..'), env });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  try {
    for (const args of [['serve'], ['sync', 'worker']]) {
      const { code, stderr } = await run(args);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /connector slack: auth\.tokenEnv: environment variable SLACK_TOKEN_NOT_SET is not set/, args.join(' '));
      assert.doesNotMatch(stderr, /ECONNREFUSED|database/i, args.join(' '));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
