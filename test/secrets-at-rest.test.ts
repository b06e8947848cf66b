/**
 * Issue 14, secrets at rest: OAuth signing private keys (and the generated journal checkpoint key)
 * are sealed with AES-256-GCM under ROSTER_SECRETS_KEY, rotation re-seals under the new key, and a
 * missing or wrong key stops start-up with exit 2 and a message naming the variable (decision 0421).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { keyById, signingKey } from '../src/journal/key.js';
import { rosterTokenIdentity } from '../src/oauth/issuer.js';
import { createClient } from '../src/oauth/client-store.js';
import { SecretBox, SecretOpenError, secretsKeyId } from '../src/lib/secret-box.js';
import { sealedKeyIds } from '../src/secrets/stored-secrets.js';
import { dataFolderKey, openSecrets, SecretsKeyError } from '../src/secrets/startup.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestServer } from './support/server.js';

const run = promisify(execFile);
let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

const external = { embedded: false, dataDir: '/nonexistent' };
const quiet = () => undefined;

/** Starts a Roster app on `db` with these secrets, gets a token for a new client, and uses it. */
async function issueAndUse(secrets: SecretBox | undefined, clientName: string): Promise<string> {
  const server = await startTestServer({ db, ...(secrets ? { secrets } : {}) });
  try {
    const { record, secret } = await createClient(db.knex, clientName, ['scim:read']);
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: record.clientId, client_secret: secret }).toString(),
    });
    assert.equal(res.status, 200);
    const token = ((await res.json()) as { access_token: string }).access_token;
    assert.equal((await server.request('GET', '/Users', { token })).status, 200, 'the issued token is accepted');
    return token;
  } finally {
    await server.close();
  }
}

async function storedPrivateKeys(): Promise<Array<{ kid: string; type: string; text: string }>> {
  const { rows } = await db.knex.raw(`SELECT kid, jsonb_typeof(private_jwk) AS type, private_jwk::text AS text FROM oauth_signing_keys ORDER BY created_at`);
  return rows;
}

/**
 * What someone who can write the database would do: insert a key pair of their own as the newest
 * signing key, then sign tokens with it. Returns a function minting a token for a new client.
 */
async function plantSigningKey(target: TestDatabase): Promise<(clientName: string) => Promise<string>> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'planted', alg: 'ES256', use: 'sig' };
  await target.knex.raw(`INSERT INTO oauth_signing_keys (kid, algorithm, public_jwk, private_jwk, created_at) VALUES ('planted', 'ES256', ?::jsonb, ?::jsonb, now() + interval '1 minute')`, [
    JSON.stringify(publicJwk),
    JSON.stringify(await exportJWK(privateKey)),
  ]);
  const identity = rosterTokenIdentity(undefined);
  return async (clientName) => {
    const { record } = await createClient(target.knex, clientName, ['scim:read']);
    return new SignJWT({ scope: 'scim:read', client_id: record.clientId })
      .setProtectedHeader({ alg: 'ES256', kid: 'planted', typ: 'at+jwt' })
      .setIssuer(identity.issuer)
      .setAudience(identity.audience)
      .setSubject(record.clientId)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
  };
}

describe('SecretBox', () => {
  test('seals with AES-256-GCM bound to its context; previous keys open; tampering is refused', () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const old = new SecretBox(oldKey);
    const sealed = old.seal('private material', 'oauth_signing_keys:k1');
    assert.doesNotMatch(sealed, /private material/);
    assert.equal(old.open(sealed, 'oauth_signing_keys:k1'), 'private material');
    assert.throws(() => old.open(sealed, 'oauth_signing_keys:k2'), SecretOpenError, 'a sealed value moved to another row does not open');
    const flipped = sealed.slice(0, -3) + (sealed.endsWith('A') ? 'B' : 'A') + sealed.slice(-2);
    assert.throws(() => old.open(flipped, 'oauth_signing_keys:k1'), SecretOpenError);
    const rotated = new SecretBox(newKey, [oldKey]);
    assert.equal(rotated.open(sealed, 'oauth_signing_keys:k1'), 'private material', 'the previous key still opens');
    assert.ok(rotated.needsResealing(sealed));
    assert.ok(!rotated.needsResealing(rotated.seal('x', 'c')));
    assert.throws(() => new SecretBox(newKey).open(sealed, 'oauth_signing_keys:k1'), /neither ROSTER_SECRETS_KEY nor in ROSTER_SECRETS_KEY_PREVIOUS/);
  });
});

describe('secrets at rest in the database', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  test('plain-text keys of an existing deployment are sealed at the first start with a key; tokens keep working', async () => {
    assert.equal(await openSecrets(db.knex, { key: undefined, previousKeys: [] }, external, quiet), undefined, 'no key, nothing sealed: plain text as before');
    await issueAndUse(undefined, 'before-key');
    assert.equal((await storedPrivateKeys())[0]?.type, 'object', 'stored in plain text without a key');
    await signingKey(db.knex, undefined); // the generated journal checkpoint key, also plain text

    const box = await openSecrets(db.knex, { key: k1, previousKeys: [] }, external, quiet);
    assert.ok(box);
    const stored = await storedPrivateKeys();
    assert.ok(stored.every((row) => row.type === 'string' && !/"d"\s*:/.test(row.text) && row.text.includes(secretsKeyId(k1))), JSON.stringify(stored));
    const { rows } = await db.knex.raw(`SELECT secret FROM journal_keys`);
    assert.match(rows[0].secret, /^roster-sealed:v1:/);
    assert.deepEqual(await sealedKeyIds(db.knex), [secretsKeyId(k1)]);
    await issueAndUse(box, 'with-k1');
  });

  test('a new signing key is stored sealed; the journal key opens through the box', async () => {
    const box = new SecretBox(k1);
    await db.knex('oauth_signing_keys').delete();
    await issueAndUse(box, 'fresh-key');
    const stored = await storedPrivateKeys();
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.type, 'string');
    const journalKey = await signingKey(db.knex, undefined, box);
    assert.equal((await keyById(db.knex, journalKey.id, undefined, box))?.secret, journalKey.secret);
    await assert.rejects(keyById(db.knex, journalKey.id, undefined, undefined), /ROSTER_SECRETS_KEY is not set/);
  });

  test('rotation: the old key in ROSTER_SECRETS_KEY_PREVIOUS opens, everything is re-sealed under the new key', async () => {
    const box = await openSecrets(db.knex, { key: k2, previousKeys: [k1] }, external, quiet);
    assert.deepEqual(await sealedKeyIds(db.knex), [secretsKeyId(k2)]);
    await issueAndUse(box, 'after-rotation');
    // The old key alone no longer opens anything.
    await assert.rejects(openSecrets(db.knex, { key: k1, previousKeys: [] }, external, quiet), (e: Error) => e instanceof SecretsKeyError && /ROSTER_SECRETS_KEY/.test(e.message));
  });

  test('a signing key inserted in SQL (plain text, next to sealed keys) is neither adopted, published nor trusted', async () => {
    const box = new SecretBox(k2);
    const attacker = await plantSigningKey(db);
    assert.equal((await openSecrets(db.knex, { key: k2, previousKeys: [] }, external, quiet))?.currentKeyId, box.currentKeyId);
    const { rows } = await db.knex.raw(`SELECT jsonb_typeof(private_jwk) AS type FROM oauth_signing_keys WHERE kid = 'planted'`);
    assert.equal(rows[0].type, 'object', 'the start-up does not seal (adopt) a plain key next to sealed ones');
    const server = await startTestServer({ db, secrets: box });
    try {
      const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      assert.ok(jwks.keys.length > 0 && !jwks.keys.some((k) => k.kid === 'planted'), 'not published');
      assert.equal((await server.request('GET', '/Users', { token: await attacker('planted-client') })).status, 401, 'a token signed with it is refused');
    } finally {
      await server.close();
    }
    // The same planted key in a deployment without ROSTER_SECRETS_KEY is trusted: what sealing prevents.
    const plain = await createTestDatabase();
    try {
      const planted = await plantSigningKey(plain);
      const server = await startTestServer({ db: plain });
      try {
        assert.equal((await server.request('GET', '/Users', { token: await planted('plain-client') })).status, 200);
      } finally {
        await server.close();
      }
    } finally {
      await plain.drop();
    }
  });

  test('missing or wrong key: `roster serve` stops with exit 2 and a message naming ROSTER_SECRETS_KEY, no stack trace', async () => {
    const serve = (env: Record<string, string>) =>
      run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
        env: { ...process.env, DATABASE_URL: db.url, PORT: '0', LOG_LEVEL: 'error', ROSTER_SECRETS_KEY: '', ...env },
        timeout: 60_000,
      }).then(
        () => assert.fail('serve started'),
        (error: { code: number; stderr: string; stdout: string }) => error,
      );
    const missing = await serve({});
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /ROSTER_SECRETS_KEY is not set, but the database holds secrets encrypted at rest/);
    assert.doesNotMatch(missing.stderr + missing.stdout, /\n\s+at /, 'no stack trace');
    const wrong = await serve({ ROSTER_SECRETS_KEY: randomBytes(32).toString('hex') });
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /ROSTER_SECRETS_KEY \(key [0-9a-f]{16}\) does not open the stored secrets/);
    assert.doesNotMatch(wrong.stderr + wrong.stdout, /\n\s+at /);
    const malformed = await serve({ ROSTER_SECRETS_KEY: 'too-short' });
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /ROSTER_SECRETS_KEY: must be 32 random bytes/);
  });
});

describe('the embedded quick start', () => {
  test('without ROSTER_SECRETS_KEY a key is generated once into the data folder (mode 0600) and announced', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'roster-secrets-'));
    const local = await createTestDatabase();
    try {
      const said: string[] = [];
      const box = await openSecrets(local.knex, { key: undefined, previousKeys: [] }, { embedded: true, dataDir: dir }, (line) => said.push(line));
      assert.ok(box, 'secrets are sealed on the quick start too');
      assert.match(said.join('\n'), /Generated a key for secrets at rest in .*secrets\.key/);
      const file = path.join(dir, 'secrets.key');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const again = await dataFolderKey(dir);
      assert.equal(again.generated, false);
      assert.equal(again.key.toString('hex'), (await readFile(file, 'utf8')).trim());
      assert.equal(secretsKeyId(again.key), box.currentKeyId, 'the next start uses the same key');
    } finally {
      await local.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
