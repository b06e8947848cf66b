/**
 * The cheaper validation path (`validateResourceBody(…, { fast: true })`, used by the HR import)
 * gives exactly scimmy's result: the same stored document, key for key and in the same order, or
 * the same error. Checked on every row of examples/hr-sample.csv and on random documents built
 * from the User schema's attributes with awkward values (wrong types, wrong case, empty strings,
 * non-canonical values, loose dates, unknown keys, nulls, server-owned attributes). No database.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { readColumnsFile } from '../src/import/columns-file.js';
import { readCsv } from '../src/import/hr-import.js';
import { RowRejected, rowToUser } from '../src/import/row-to-user.js';
import { coerceFast, validateResourceBody } from '../src/scim/validate.js';
import { ENTERPRISE, HR } from './support/server.js';

const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';

type Outcome = { ok: true; json: string } | { ok: false; error: string };

function outcome(body: unknown, fast: boolean): Outcome {
  try {
    return { ok: true, json: JSON.stringify(validateResourceBody('User', body, { fast })) };
  } catch (error) {
    const e = error as { name: string; message: string; status?: number; scimType?: string };
    return { ok: false, error: `${e.name} ${e.status ?? ''} ${e.scimType ?? ''} ${e.message}` };
  }
}

function assertSame(body: unknown): void {
  const copy = structuredClone(body);
  assert.deepEqual(outcome(body, true), outcome(body, false), JSON.stringify(body));
  assert.deepEqual(body, copy, 'the body is not changed');
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fast validation', () => {
  test('every row of hr-sample.csv: the same document as scimmy, in the same key order, without scimmy', async () => {
    const config = await readColumnsFile('examples/columns.yaml');
    const records = readCsv(await fs.readFile('examples/hr-sample.csv', 'utf8'), config);
    let checked = 0;
    for (const record of records) {
      let body: Record<string, unknown>;
      try {
        body = rowToUser(config, record, undefined, (n) => (n.endsWith('7') ? undefined : '2819c223-7f76-453a-919d-413861904646')).body;
      } catch (error) {
        assert.ok(error instanceof RowRejected);
        continue;
      }
      assert.ok(coerceFast('User', body), `the import's documents take the fast path (row of ${String(body.userName)})`);
      assertSame(body);
      checked++;
    }
    assert.equal(checked, 1987);
  });

  test('a stored user document with a PATCHed value (what validateDocument checks) takes the fast path, with scimmy\'s result', () => {
    const stored = {
      schemas: [CORE],
      userName: 'ana@example.com',
      name: { givenName: 'Ana', familyName: 'Ünal' },
      displayName: 'Ana Ünal',
      title: 'Analyst',
      active: true,
      emails: [{ value: 'ana@example.com', type: 'work', primary: true }],
      [ENTERPRISE]: { employeeNumber: 'E1', department: 'Finance', manager: { value: '2819c223-7f76-453a-919d-413861904646' } },
    };
    for (const patched of [stored, { ...stored, title: 'Senior Analyst' }, { ...stored, active: false }]) {
      assert.ok(coerceFast('User', patched));
      assertSame(patched);
    }
    // A value scimmy changes (a boolean sent as a string) declines the fast path: scimmy decides.
    assert.equal(coerceFast('User', { ...stored, active: 'False' }), undefined);
    assertSame({ ...stored, active: 'False' });
  });

  test('random documents: the same document or the same error', () => {
    const next = random(20261122);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
    const strings = ['Ana', ' padded ', '', 'Zoë Ünal', 'line\nbreak', '123', 'true', '😀'];
    const values: Record<string, readonly unknown[]> = {
      string: [...strings, 42, true, null, ['a'], { a: 1 }],
      boolean: [true, false, 'true', 'False', 0, null],
      dateTime: ['2024-01-31T00:00:00.000Z', '2024-01-31', '2024-01-31T10:00:00Z', '2024-02-30T00:00:00.000Z', 'soon', 1700000000000, null],
      emailType: ['work', 'home', 'Work', 'other', 'private', 7],
    };
    const simple = (kind: string) => pick(values[kind]!);
    const generators: Array<[string, () => unknown]> = [
      ['userName', () => pick(['ana@example.com', ...strings, 5, null])],
      ['username', () => 'lower@example.com'],
      ['displayName', () => simple('string')],
      ['nickName', () => simple('string')],
      ['title', () => simple('string')],
      ['userType', () => simple('string')],
      ['externalId', () => simple('string')],
      ['active', () => simple('boolean')],
      ['name', () => pick([{ givenName: simple('string'), familyName: simple('string') }, { formatted: 'A B' }, {}, 'Ana', { nosuch: 'x' }])],
      ['emails', () => pick([[{ value: 'a@example.com', type: simple('emailType'), primary: simple('boolean') }], [], [{ value: 'a@example.com' }, { value: 'b@example.com', display: 'B' }], 'a@example.com', [{}]])],
      ['profileUrl', () => pick(['https://example.com/ana', 'not a url'])],
      ['password', () => 'secret'],
      ['groups', () => [{ value: 'x' }]],
      ['id', () => 'client-id'],
      ['meta', () => ({ version: 'W/"1"' })],
      ['nosuch', () => 'x'],
      [
        ENTERPRISE,
        () =>
          pick([
            { employeeNumber: simple('string'), department: simple('string'), costCenter: 'CC-1' },
            { manager: pick([{ value: '2819c223-7f76-453a-919d-413861904646' }, '2819c223-7f76-453a-919d-413861904646', { value: 'x', displayName: 'Boss' }, { $ref: '/Users/x' }, {}]) },
            {},
            { Department: 'Finance' },
            'Finance',
          ]),
      ],
      [HR, () => pick([{ startDate: simple('dateTime'), endDate: simple('dateTime'), location: simple('string') }, { employmentType: 'Contractor', hrStatus: 'Active' }, { personId: 'P1' }, { nosuch: 1 }])],
      [ENTERPRISE.toLowerCase(), () => ({ department: 'Sales' })],
      [`${ENTERPRISE}:department`, () => 'Legal'],
    ];
    const good: Record<string, unknown> = {
      displayName: 'Ana Ünal',
      nickName: 'Ana',
      title: 'Analyst',
      userType: 'Employee',
      externalId: 'ext-1',
      active: false,
      name: { givenName: 'Ana', familyName: 'Ünal' },
      emails: [{ value: 'ana@example.com', type: 'work', primary: true }, { value: 'a@example.org', type: 'home' }],
      [ENTERPRISE]: { employeeNumber: 'E1', department: 'Finance', manager: { value: '2819c223-7f76-453a-919d-413861904646' } },
      [HR]: { startDate: '2020-06-10T00:00:00.000Z', location: 'Berlin, DE', hrStatus: 'Active' },
    };
    let fast = 0;
    for (let i = 0; i < 3000; i++) {
      const body: Record<string, unknown> = {
        schemas: pick([[CORE], [CORE, ENTERPRISE, HR], [CORE.toLowerCase()], [CORE, 'urn:example:other'], 'x', undefined]),
      };
      if (next() < 0.9) body.userName = pick(['ana@example.com', 'Bob@Example.com']);
      for (const [key, generate] of generators) if (next() < 0.25) body[key] = generate();
      // Half are well-formed documents with at most one awkward value, so the fast path is
      // exercised near its edges, not only refused.
      if (i % 2 === 0) {
        for (const key of Object.keys(body)) delete body[key];
        Object.assign(body, { schemas: [CORE], userName: 'ana@example.com' });
        for (const [key, value] of Object.entries(good)) if (next() < 0.5) body[key] = structuredClone(value);
        if (next() < 0.5) {
          const [key, generate] = pick(generators);
          body[key] = generate();
        }
      }
      if (coerceFast('User', body)) fast++;
      assertSame(body);
    }
    assert.ok(fast > 300, `the fast path took ${fast} of the random documents`);
  });

  test('POST and PUT bodies as Entra ID and Okta send them (SCIM creates and replaces take the fast path first): the same document or the same error', () => {
    const entra = {
      schemas: [CORE, ENTERPRISE],
      externalId: '0a21f0f2-8d2a-4f8e-97fa-0dd4b9a3e1c4',
      userName: 'Test_User_dfeef4c5@contoso.com',
      active: true,
      displayName: 'Test User',
      emails: [{ primary: true, type: 'work', value: 'Test_User_dfeef4c5@contoso.com' }],
      name: { formatted: 'Test User', familyName: 'User', givenName: 'Test' },
      [ENTERPRISE]: { employeeNumber: '701984', department: 'Engineering', manager: { value: '2819c223-7f76-453a-919d-413861904646' } },
    };
    const okta = {
      schemas: [CORE],
      userName: 'isaac.brock@example.com',
      name: { givenName: 'Isaac', familyName: 'Brock' },
      emails: [{ primary: true, value: 'isaac.brock@example.com', type: 'work' }],
      displayName: 'Isaac Brock',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      groups: [],
      password: '1mz050nq',
      active: true,
    };
    const variants: unknown[] = [
      entra,
      okta,
      { ...entra, active: 'True' }, // Entra's boolean strings
      { ...entra, [ENTERPRISE]: { manager: 'b3b9f3a4-0000-4000-8000-000000000001' } }, // manager as a string
      { ...entra, schemas: [CORE, ENTERPRISE, 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User'] },
      { ...entra, schemas: [CORE] }, // an extension's attributes without its schema listed
      { ...entra, emails: [{ primary: true, type: 'Work', value: 'x@contoso.com' }] },
      { ...entra, userName: '   ' },
      { ...entra, emails: [{ value: 'x@contoso.com', type: 'work', primary: 'true' }] },
      { ...okta, password: 42 },
      { ...okta, name: { givenName: 'Isaac', familyName: 'Brock', honorificPrefix: null } },
      { ...okta, active: null },
      { ...okta, id: 'client-chosen', meta: { resourceType: 'User' } },
    ];
    let fast = 0;
    for (const body of variants) {
      if (coerceFast('User', body as Record<string, unknown>)) fast++;
      assertSame(body);
    }
    assert.ok(fast >= 2, `the fast path took ${fast} of the bodies`);
  });
});
