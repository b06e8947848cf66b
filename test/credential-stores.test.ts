/**
 * Bearer tokens and OAuth clients share one credential-store shape (src/auth/credential-store.ts):
 * the same life cycle, each on its own table, with what differs (the revoke-by column, the record's
 * fields, the error class) checked here for both.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { CredentialNameTakenError } from '../src/auth/credential-store.js';
import { countActiveTokens, createToken, findActiveToken, listTokens, revokeToken, touchToken, TokenNameTakenError } from '../src/auth/token-store.js';
import { authenticateClient, ClientNameTakenError, createClient, findActiveClient, listClients, revokeClient, touchClient } from '../src/oauth/client-store.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** A second active credential with a taken name is refused with its kind's error, a CredentialNameTakenError. */
async function assertNameTaken(create: Promise<unknown>, kind: typeof TokenNameTakenError | typeof ClientNameTakenError, message: string): Promise<void> {
  const error = await create.then(
    () => assert.fail('a second active credential with the same name'),
    (refused: unknown) => refused,
  );
  assert.ok(error instanceof kind && error instanceof CredentialNameTakenError, String(error));
  assert.equal(error.message, message);
}

test('tokens: stored as a SHA-256 hash, listed without it, found while active, revoked by name or id; an active name is unique', async () => {
  const knex = db.knex;
  const { token, record } = await createToken(knex, 'entra', ['scim:write']);
  assert.match(token, /^rst_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(Object.keys(record).sort(), ['createdAt', 'id', 'lastUsedAt', 'name', 'revokedAt', 'scopes']);
  const [stored] = await knex('api_tokens').where({ id: record.id });
  assert.equal(stored.token_hash, sha256(token));

  await assertNameTaken(createToken(knex, 'entra', ['scim:read']), TokenNameTakenError, 'A token named "entra" already exists; revoke it first or choose another name');

  assert.equal((await findActiveToken(knex, token))?.id, record.id);
  assert.equal(await findActiveToken(knex, token + 'x'), undefined);
  assert.equal(await countActiveTokens(knex), 1);
  await touchToken(knex, record.id);
  assert.ok((await findActiveToken(knex, token))?.lastUsedAt instanceof Date);

  const second = await createToken(knex, 'okta', ['scim:read']);
  assert.equal(await revokeToken(knex, 'no-such-token'), false, 'a value that is no uuid is compared with names only');
  assert.equal(await revokeToken(knex, randomUUID()), false);
  assert.equal(await revokeToken(knex, 'entra'), true, 'by name');
  assert.equal(await revokeToken(knex, second.record.id), true, 'by id');
  assert.equal(await revokeToken(knex, 'entra'), false, 'already revoked');
  assert.equal(await findActiveToken(knex, token), undefined);
  assert.equal(await countActiveTokens(knex), 0);
  assert.deepEqual(await listTokens(knex), []);
  assert.deepEqual((await listTokens(knex, true)).map((t) => [t.name, t.revokedAt instanceof Date]), [
    ['entra', true],
    ['okta', true],
  ]);
  // Once revoked, the name is free again.
  assert.equal((await createToken(knex, 'entra', ['scim:read'])).record.name, 'entra');
});

test('clients: the same shape on oauth_clients, revoked by name or client id, authenticated in constant time', async () => {
  const knex = db.knex;
  const { secret, record } = await createClient(knex, 'okta', ['scim:write']);
  assert.match(secret, /^rcs_[A-Za-z0-9_-]{43}$/);
  assert.match(record.clientId, /^rcl_[0-9a-f]{24}$/);
  assert.deepEqual(Object.keys(record), ['id', 'clientId', 'name', 'scopes', 'createdAt', 'lastUsedAt', 'revokedAt']);
  const [stored] = await knex('oauth_clients').where({ id: record.id });
  assert.equal(stored.secret_hash, sha256(secret));

  await assertNameTaken(createClient(knex, 'okta', ['scim:read']), ClientNameTakenError, 'A client named "okta" already exists; revoke it first or choose another name');

  assert.equal((await findActiveClient(knex, record.clientId))?.id, record.id);
  assert.equal((await authenticateClient(knex, record.clientId, secret))?.name, 'okta');
  assert.equal(await authenticateClient(knex, record.clientId, secret + 'x'), undefined);
  assert.equal(await authenticateClient(knex, 'rcl_unknown', secret), undefined);
  await touchClient(knex, record.id);
  assert.ok((await findActiveClient(knex, record.clientId))?.lastUsedAt instanceof Date);

  const second = await createClient(knex, 'entra', ['scim:read']);
  assert.equal(await revokeClient(knex, record.id), false, 'not by its row id');
  assert.equal(await revokeClient(knex, 'okta'), true, 'by name');
  assert.equal(await revokeClient(knex, second.record.clientId), true, 'by client id');
  assert.equal(await authenticateClient(knex, record.clientId, secret), undefined, 'revoked');
  assert.deepEqual(await listClients(knex), []);
  assert.deepEqual((await listClients(knex, true)).map((c) => c.name), ['okta', 'entra']);
});
