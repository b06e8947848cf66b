/**
 * The wire formats Entra ID and Okta depend on, compared byte for byte with test/golden/*.http
 * (see test/support/golden.ts; regenerate with ROSTER_UPDATE_GOLDEN=1 and review the diff).
 * The steps run in order on a fresh database, so ids, versions and counts are the same every run.
 */
import { after, before, describe, test } from 'node:test';
import { createToken } from '../src/auth/token-store.js';
import { assertGolden } from './support/golden.js';
import { ENTERPRISE, GROUP_SCHEMA, PATCH_OP, startTestServer, USER_SCHEMA, type RequestOptions, type TestServer } from './support/server.js';

let server: TestServer;
let readOnlyToken: string;
const ids: Record<string, string> = {};
before(async () => {
  server = await startTestServer();
  readOnlyToken = (await createToken(server.db.knex, 'golden-reader', ['scim:read'])).token;
});
after(async () => {
  await server.close();
});

async function golden(name: string, method: string, path: string, options?: RequestOptions) {
  const res = await server.request(method, path, options);
  assertGolden(name, res, server.url);
  return res;
}

describe('resources', () => {
  test('User: create, read', async () => {
    ids.boss = (await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'boss@example.com', displayName: 'The Boss' } })).body.id;
    const created = await golden('user-create', 'POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA, ENTERPRISE],
        userName: 'ada@example.com',
        externalId: 'ext-ada',
        name: { givenName: 'Ada', familyName: 'Lovelace', formatted: 'Ada Lovelace' },
        displayName: 'Ada Lovelace',
        title: 'Analyst',
        active: true,
        emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
        phoneNumbers: [{ value: '+44 20 7946 0000', type: 'work' }],
        [ENTERPRISE]: { employeeNumber: 'E1', department: 'Finance', manager: { value: ids.boss } },
      },
    });
    ids.ada = created.body.id;
    await golden('user-get', 'GET', `/Users/${ids.ada}`);
  });

  test('Group: create with a member, read, PATCH', async () => {
    const created = await golden('group-create', 'POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Finance', externalId: 'ext-fin', members: [{ value: ids.ada }] } });
    ids.group = created.body.id;
    await golden('group-patch-204', 'PATCH', `/Groups/${ids.group}`, { body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: ids.boss }] }] } });
    await golden('group-get', 'GET', `/Groups/${ids.group}`);
  });

  test('ListResponse: index paging, cursor paging, attributes, root search', async () => {
    await golden('list-users', 'GET', `/Users?filter=${encodeURIComponent('userName ew "example.com"')}&sortBy=userName&count=1`);
    await golden('list-users-cursor', 'GET', '/Users?cursor=&count=1');
    await golden('list-groups-attributes', 'GET', '/Groups?attributes=displayName');
    await golden('search-root', 'POST', '/.search', { body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'displayName eq "Finance"' } });
  });

  test('Bulk response: created, refused, patched, deleted', async () => {
    await golden('bulk', 'POST', '/Bulk', {
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
        Operations: [
          { method: 'POST', path: '/Users', bulkId: 'u1', data: { schemas: [USER_SCHEMA], userName: 'bulk1@example.com' } },
          { method: 'POST', path: '/Users', bulkId: 'dup', data: { schemas: [USER_SCHEMA], userName: 'ada@example.com' } },
          { method: 'PATCH', path: `/Groups/${ids.group}`, data: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: 'bulkId:u1' }] }] } },
          { method: 'DELETE', path: '/Users/bulkId:u1' },
        ],
      },
    });
  });
});

describe('discovery', () => {
  test('/ServiceProviderConfig, /Schemas, /ResourceTypes', async () => {
    await golden('service-provider-config', 'GET', '/ServiceProviderConfig');
    await golden('schemas', 'GET', '/Schemas');
    await golden('resource-types', 'GET', '/ResourceTypes');
  });
});

describe('each error shape', () => {
  const userPatch = (op: Record<string, unknown>) => ({ body: { schemas: [PATCH_OP], Operations: [op] } });
  test('400 invalidSyntax, invalidValue, invalidFilter, invalidPath, noTarget, mutability, invalidCursor', async () => {
    await golden('error-400-invalidSyntax', 'POST', '/Users', { rawBody: '{"schemas": [' });
    await golden('error-400-invalidValue', 'POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'x@example.com', favouriteColour: 'blue' } });
    await golden('error-400-invalidFilter', 'GET', `/Users?filter=${encodeURIComponent('userName eq')}`);
    await golden('error-400-invalidPath', 'PATCH', `/Users/${ids.ada}`, userPatch({ op: 'replace', path: 'shoeSize', value: 9 }));
    await golden('error-400-noTarget', 'PATCH', `/Users/${ids.ada}`, userPatch({ op: 'remove' }));
    await golden('error-400-mutability', 'PATCH', `/Users/${ids.ada}`, userPatch({ op: 'replace', path: 'id', value: 'x' }));
    await golden('error-400-invalidCursor', 'GET', '/Users?cursor=bogus.cursor');
  });
  test('401, 403, 404, 405, 409, 412, 413, 415, 501', async () => {
    await golden('error-401', 'GET', '/Users', { token: null });
    await golden('error-403', 'POST', '/Users', { token: readOnlyToken, body: { schemas: [USER_SCHEMA], userName: 'ro@example.com' } });
    await golden('error-404', 'GET', '/Users/00000000-0000-4000-8000-000000000000');
    await golden('error-405', 'DELETE', '/Users');
    await golden('error-409-uniqueness', 'POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'ADA@example.com' } });
    await golden('error-412', 'PUT', `/Users/${ids.ada}`, { headers: { 'if-match': 'W/"999"' }, body: { schemas: [USER_SCHEMA], userName: 'ada@example.com' } });
    await golden('error-413', 'POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'big@example.com', title: 'x'.repeat(1_100_000) } });
    await golden('error-415', 'POST', '/Users', { headers: { 'content-encoding': 'compress' }, body: { schemas: [USER_SCHEMA], userName: 'z@example.com' } });
    await golden('error-501', 'GET', '/Me');
  });
});
