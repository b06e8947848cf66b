import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ScimError } from '../src/scim/errors.js';
import { coreAttributes } from '../src/scim/schema/catalog.js';
import { applyPatch, type PatchResult } from '../src/scim/patch/apply.js';
import { coerceBooleanStrings } from '../src/scim/patch/boolean-strings.js';
import { MAX_PATCH_OPERATIONS, parsePatchRequest } from '../src/scim/patch/operations.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const HR = 'urn:ietf:params:scim:schemas:extension:roster:2.0:User';

type Json = Record<string, unknown>;

const body = (...operations: unknown[]) => ({ schemas: [PATCH_OP], Operations: operations });

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Parses and applies a request body; `current` is frozen so any mutation of it throws. */
function patch(type: 'User' | 'Group', current: Json, request: unknown, options?: { id?: string }): PatchResult {
  return applyPatch(type, deepFreeze(current), parsePatchRequest(request), options);
}

function assertScimError(fn: () => unknown, status: number, scimType: string, detail?: RegExp): ScimError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ScimError, `expected a ScimError, got ${String(caught)}`);
  assert.equal(caught.status, status);
  assert.equal(caught.scimType, scimType, caught.detail);
  if (detail) assert.match(caught.detail, detail);
  return caught;
}

const user = (): Json => ({
  userName: 'bjensen@example.com',
  externalId: 'bjensen',
  name: { givenName: 'Barbara', familyName: 'Jensen' },
  active: true,
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@home.example', type: 'home' },
  ],
  phoneNumbers: [{ value: '555-0100', type: 'work' }],
  [ENTERPRISE]: { department: 'Tour Operations', manager: { value: 'm-1', displayName: 'Jane Doe' } },
});

const group = (): Json => ({ displayName: 'Tour Guides', externalId: 'g-1' });
const noMembership = { add: [], remove: [], removeAll: false };

describe('parsePatchRequest', () => {
  test('requires the PatchOp schema', () => {
    assertScimError(() => parsePatchRequest({ Operations: [{ op: 'add', path: 'title', value: 'x' }] }), 400, 'invalidSyntax', /PatchOp/);
    assertScimError(() => parsePatchRequest({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], Operations: [] }), 400, 'invalidSyntax');
    assertScimError(() => parsePatchRequest('nope'), 400, 'invalidSyntax');
    // URNs compare case-insensitively.
    assert.equal(parsePatchRequest({ schemas: [PATCH_OP.toUpperCase()], Operations: [{ op: 'add', path: 'title', value: 'x' }] }).length, 1);
  });

  test('requires a non-empty Operations array, at most MAX_PATCH_OPERATIONS long', () => {
    assertScimError(() => parsePatchRequest({ schemas: [PATCH_OP] }), 400, 'invalidSyntax', /Operations/);
    assertScimError(() => parsePatchRequest(body()), 400, 'invalidSyntax', /non-empty/);
    assertScimError(() => parsePatchRequest({ schemas: [PATCH_OP], Operations: {} }), 400, 'invalidSyntax');
    const op = { op: 'replace', path: 'title', value: 'x' };
    assert.equal(parsePatchRequest(body(...Array(MAX_PATCH_OPERATIONS).fill(op))).length, MAX_PATCH_OPERATIONS);
    assertScimError(() => parsePatchRequest(body(...Array(MAX_PATCH_OPERATIONS + 1).fill(op))), 400, 'invalidValue', /at most 1000/);
  });

  test('op names are case-insensitive; unknown ones are invalidSyntax', () => {
    const parsed = parsePatchRequest(body({ op: 'Replace', path: 'title', value: 'x' }, { op: 'ADD', path: 'title', value: 'y' }, { op: 'Remove', path: 'title' }));
    assert.deepEqual(parsed.map((o) => o.op), ['replace', 'add', 'remove']);
    assertScimError(() => parsePatchRequest(body({ op: 'move', path: 'title' })), 400, 'invalidSyntax', /move/);
    assertScimError(() => parsePatchRequest(body({ path: 'title', value: 'x' })), 400, 'invalidSyntax');
    assertScimError(() => parsePatchRequest(body('add')), 400, 'invalidSyntax');
  });

  test('member names of the message are case-insensitive', () => {
    const parsed = parsePatchRequest({ Schemas: [PATCH_OP], operations: [{ OP: 'add', Path: 'title', Value: 'x' }] });
    assert.deepEqual(parsed, [{ op: 'add', rawPath: 'title', path: { attribute: 'title' }, value: 'x' }]);
  });

  test('parses the path and keeps the raw text', () => {
    const [operation] = parsePatchRequest(body({ op: 'replace', path: 'emails[type eq "work"].value', value: 'a@b.c' }));
    assert.equal(operation!.rawPath, 'emails[type eq "work"].value');
    assert.equal(operation!.path!.attribute, 'emails');
    assert.equal(operation!.path!.subAttribute, 'value');
    assert.equal(operation!.path!.filter?.kind, 'compare');
  });

  test('bad paths are invalidPath', () => {
    assertScimError(() => parsePatchRequest(body({ op: 'replace', path: 42, value: 'x' })), 400, 'invalidPath');
    assertScimError(() => parsePatchRequest(body({ op: 'replace', path: '  ', value: 'x' })), 400, 'invalidPath');
    assertScimError(() => parsePatchRequest(body({ op: 'replace', path: 'emails[type eq "work"', value: 'x' })), 400, 'invalidPath', /emails/);
    assertScimError(() => parsePatchRequest(body({ op: 'replace', path: 'emails[type eq work].value', value: 'x' })), 400, 'invalidPath');
    assertScimError(() => parsePatchRequest(body({ op: 'replace', path: 'name..givenName', value: 'x' })), 400, 'invalidPath');
  });

  test('add and replace need a value; path-less ones need an object', () => {
    assertScimError(() => parsePatchRequest(body({ op: 'add', path: 'title' })), 400, 'invalidValue', /no "value"/);
    assertScimError(() => parsePatchRequest(body({ op: 'replace', path: 'title' })), 400, 'invalidValue');
    assertScimError(() => parsePatchRequest(body({ op: 'replace', value: 'x' })), 400, 'invalidValue', /object/);
    assertScimError(() => parsePatchRequest(body({ op: 'add', value: [{ title: 'x' }] })), 400, 'invalidValue');
    assertScimError(() => parsePatchRequest(body({ op: 'add', path: 'title', value: null })), 400, 'invalidValue');
    // replace with null is allowed: it unassigns (RFC 7643 §2.5).
    assert.equal(parsePatchRequest(body({ op: 'replace', path: 'title', value: null }))[0]!.value, null);
  });

  test('remove needs a path (noTarget) and keeps a value when given', () => {
    assertScimError(() => parsePatchRequest(body({ op: 'remove' })), 400, 'noTarget');
    assertScimError(() => parsePatchRequest(body({ op: 'remove', path: null })), 400, 'noTarget');
    const [operation] = parsePatchRequest(body({ op: 'Remove', path: 'members', value: [{ value: 'u1' }] }));
    assert.deepEqual(operation!.value, [{ value: 'u1' }]);
  });
});

describe('coerceBooleanStrings', () => {
  test('converts boolean strings where the catalog says boolean, in any case', () => {
    assert.deepEqual(coerceBooleanStrings('User', { active: 'False' }), { active: false });
    assert.deepEqual(coerceBooleanStrings('User', { active: 'TRUE' }), { active: true });
    assert.deepEqual(coerceBooleanStrings('User', { active: 'yes' }), { active: 'yes' });
  });

  test('leaves strings alone where the attribute is not boolean', () => {
    assert.deepEqual(coerceBooleanStrings('User', { displayName: 'true', [ENTERPRISE]: { employeeNumber: 'False' } }), {
      displayName: 'true',
      [ENTERPRISE]: { employeeNumber: 'False' },
    });
    assert.deepEqual(coerceBooleanStrings('Group', { displayName: 'True' }), { displayName: 'True' });
  });

  test('reaches into complex and multi-valued values (a POST body as Entra sends it)', () => {
    const post = {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
      userName: 'Test_User',
      active: 'True',
      emails: [{ primary: 'True', type: 'work', value: 'a@b.c' }, { primary: 'false', value: 'x@y.z' }],
      roles: [{ primary: 'False', value: 'admin' }],
      [ENTERPRISE]: { department: 'Sales', manager: 'm-1' },
      unknownThing: 'True',
    };
    const frozen = deepFreeze(structuredClone(post));
    assert.deepEqual(coerceBooleanStrings('User', frozen), {
      ...post,
      active: true,
      emails: [{ primary: true, type: 'work', value: 'a@b.c' }, { primary: false, value: 'x@y.z' }],
      roles: [{ primary: false, value: 'admin' }],
    });
  });

  test('handles dotted, URN-qualified and filtered keys of path-less value objects', () => {
    assert.deepEqual(
      coerceBooleanStrings('User', {
        'emails[type eq "work"].primary': 'True',
        'urn:ietf:params:scim:schemas:core:2.0:User:active': 'false',
        'name.givenName': 'True',
      }),
      { 'emails[type eq "work"].primary': true, 'urn:ietf:params:scim:schemas:core:2.0:User:active': false, 'name.givenName': 'True' },
    );
  });

  test('with an attribute path, coerces the value of that attribute', () => {
    assert.equal(coerceBooleanStrings('User', 'False', 'active'), false);
    assert.equal(coerceBooleanStrings('User', 'True', 'emails[type eq "work"].primary'), true);
    assert.equal(coerceBooleanStrings('User', 'True', 'EMAILS[value eq "a]b"].PRIMARY'), true);
    assert.deepEqual(coerceBooleanStrings('User', { type: 'work', primary: 'true' }, 'emails[type eq "work"]'), { type: 'work', primary: true });
    assert.deepEqual(coerceBooleanStrings('User', [{ primary: 'False' }], 'phoneNumbers'), [{ primary: false }]);
    assert.equal(coerceBooleanStrings('User', 'True', 'title'), 'True');
    assert.equal(coerceBooleanStrings('User', 'True', 'noSuchAttribute'), 'True');
    assert.deepEqual(coerceBooleanStrings('User', { department: 'True' }, ENTERPRISE), { department: 'True' });
  });
});

describe('applyPatch: Microsoft Entra ID requests (use-scim-to-provision-users-and-groups)', () => {
  test('Update User [Multi-valued properties]', () => {
    const result = patch('User', user(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ],
    });
    assert.equal(result.changed, true);
    assert.deepEqual(result.resource.emails, [
      { value: 'updatedEmail@microsoft.com', type: 'work', primary: true },
      { value: 'babs@home.example', type: 'home' },
    ]);
    assert.deepEqual(result.resource.name, { givenName: 'Barbara', familyName: 'updatedFamilyName' });
    assert.deepEqual(result.membership, noMembership);
  });

  test('Update User [Single-valued properties]', () => {
    const result = patch('User', user(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'userName', value: '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com' }],
    });
    assert.equal(result.resource.userName, '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com');
  });

  test('Disable User', () => {
    const result = patch('User', user(), {
      Operations: [{ op: 'Replace', path: 'active', value: false }],
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    });
    assert.equal(result.resource.active, false);
  });

  test('Update Group [Non-member attributes]', () => {
    const result = patch('Group', group(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'displayName', value: '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName' }],
    });
    assert.equal(result.resource.displayName, '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName');
    assert.deepEqual(result.membership, noMembership);
  });

  test('Update Group [Add Members]', () => {
    const result = patch('Group', group(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: 'f648f8d5ea4e4cd38e9c' }] }],
    });
    assert.deepEqual(result.membership, { add: [{ value: 'f648f8d5ea4e4cd38e9c' }], remove: [], removeAll: false });
    assert.equal(result.changed, false);
    assert.equal('members' in result.resource, false);
  });

  test('Update Group [Remove Members]', () => {
    const result = patch('Group', group(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: 'f648f8d5ea4e4cd38e9c' }] }],
    });
    assert.deepEqual(result.membership, { add: [], remove: ['f648f8d5ea4e4cd38e9c'], removeAll: false });
  });
});

describe('applyPatch: Entra ID with and without aadOptscim062020 (known issues article)', () => {
  test('disable user: "False" string without the flag, boolean with it', () => {
    const without = patch('User', user(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    const withFlag = patch('User', user(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    assert.equal(without.resource.active, false);
    assert.deepEqual(without.resource, withFlag.resource);
  });

  test('path-less Replace with a value object of string booleans', () => {
    const result = patch('User', user(), body({ op: 'Replace', value: { active: 'False' } }));
    assert.equal(result.resource.active, false);
    const back = patch('User', { ...user(), active: false }, body({ op: 'Replace', value: { active: 'True' } }));
    assert.equal(back.resource.active, true);
  });

  test('add a single-value string attribute, capitalised op or not', () => {
    for (const op of ['Add', 'add']) {
      const result = patch('User', user(), { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op, path: 'nickName', value: 'Babs' }] });
      assert.equal(result.resource.nickName, 'Babs');
    }
  });

  test('replace multiple attributes: both forms give the same resource', () => {
    const without = patch('User', user(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Replace', path: 'displayName', value: 'Pvlo' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'TestBcwqnm@test.microsoft.com' },
        { op: 'Replace', path: 'name.givenName', value: 'Gtfd' },
        { op: 'Replace', path: 'name.familyName', value: 'Pkqf' },
        { op: 'Replace', path: 'externalId', value: 'Eqpj' },
        { op: 'Replace', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', value: 'Eqpj' },
      ],
    });
    assert.equal(without.resource.displayName, 'Pvlo');
    assert.equal(without.resource.externalId, 'Eqpj');
    assert.deepEqual(without.resource.name, { givenName: 'Gtfd', familyName: 'Pkqf' });
    assert.equal((without.resource.emails as Json[])[0]!.value, 'TestBcwqnm@test.microsoft.com');
    assert.deepEqual(without.resource[ENTERPRISE], { department: 'Tour Operations', manager: { value: 'm-1', displayName: 'Jane Doe' }, employeeNumber: 'Eqpj' });

    const withFlag = patch('User', user(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'TestMhvaes@test.microsoft.com' },
        {
          op: 'replace',
          value: {
            displayName: 'Bjfe',
            'name.givenName': 'Kkom',
            'name.familyName': 'Unua',
            'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber': 'Aklq',
          },
        },
      ],
    });
    assert.equal(withFlag.resource.displayName, 'Bjfe');
    assert.deepEqual(withFlag.resource.name, { givenName: 'Kkom', familyName: 'Unua' });
    assert.equal((withFlag.resource[ENTERPRISE] as Json).employeeNumber, 'Aklq');
    assert.equal((withFlag.resource.emails as Json[])[0]!.value, 'TestMhvaes@test.microsoft.com');
  });

  test('remove a group member: value array without the flag, value filter with it', () => {
    const without = patch('Group', group(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Remove', path: 'members', value: [{ value: 'u1091' }] }],
    });
    assert.deepEqual(without.membership, { add: [], remove: ['u1091'], removeAll: false });
    const withFlag = patch('Group', group(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'remove', path: 'members[value eq "7f4bc1a3-285e-48ae-8202-5accb43efb0e"]' }],
    });
    assert.deepEqual(withFlag.membership, { add: [], remove: ['7f4bc1a3-285e-48ae-8202-5accb43efb0e'], removeAll: false });
  });

  test('Add to a filtered path with no matching element creates the element', () => {
    const current = { userName: 'a', emails: [{ value: 'home@example.com', type: 'home' }] };
    const result = patch('User', current, body(
      { op: 'Add', path: 'emails[type eq "work"].value', value: 'work@example.com' },
      { op: 'Add', path: 'phoneNumbers[type eq "work"].value', value: '+1 555 0100' },
      { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0199' },
      { op: 'Add', path: 'addresses[type eq "work"].formatted', value: '1 Main St' },
      { op: 'Add', path: 'addresses[type eq "work"].locality', value: 'Springfield' },
    ));
    assert.deepEqual(result.resource.emails, [
      { value: 'home@example.com', type: 'home' },
      { type: 'work', value: 'work@example.com' },
    ]);
    assert.deepEqual(result.resource.phoneNumbers, [
      { type: 'work', value: '+1 555 0100' },
      { type: 'mobile', value: '+1 555 0199' },
    ]);
    // The second Add finds the address the first one created.
    assert.deepEqual(result.resource.addresses, [{ type: 'work', formatted: '1 Main St', locality: 'Springfield' }]);
  });

  test('Add to a filtered path with a matching element sets its sub-attribute', () => {
    const result = patch('User', user(), body({ op: 'Add', path: 'emails[type eq "work"].value', value: 'new@example.com' }));
    assert.deepEqual(result.resource.emails, [
      { value: 'new@example.com', type: 'work', primary: true },
      { value: 'babs@home.example', type: 'home' },
    ]);
  });

  test('Add with an "and" of eq conditions seeds every condition; primary seeds clear other primaries', () => {
    const result = patch('User', user(), body({ op: 'add', path: 'emails[type eq "other" and primary eq true].value', value: 'o@example.com' }));
    assert.deepEqual(result.resource.emails, [
      { value: 'bjensen@example.com', type: 'work', primary: false },
      { value: 'babs@home.example', type: 'home' },
      { type: 'other', primary: true, value: 'o@example.com' },
    ]);
  });

  test('Add to a filtered path that cannot describe a new element is noTarget', () => {
    assertScimError(() => patch('User', user(), body({ op: 'add', path: 'emails[value co "nomatch"].display', value: 'x' })), 400, 'noTarget', /emails/);
    assertScimError(() => patch('User', user(), body({ op: 'add', path: 'emails[type eq "x" or type eq "y"].value', value: 'x' })), 400, 'noTarget');
  });

  test('manager given as a plain string', () => {
    const path = patch('User', user(), body({ op: 'Add', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager', value: '2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2' }));
    // The previous manager's displayName must not survive.
    assert.deepEqual((path.resource[ENTERPRISE] as Json).manager, { value: '2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2' });

    const valueObject = patch('User', { userName: 'a' }, body({ op: 'replace', value: { [`${ENTERPRISE}:manager`]: 'm-2' } }));
    assert.deepEqual(valueObject.resource, { userName: 'a', [ENTERPRISE]: { manager: { value: 'm-2' } } });

    const extensionObject = patch('User', { userName: 'a' }, body({ op: 'add', value: { [ENTERPRISE]: { manager: 'm-3' } } }));
    assert.deepEqual(extensionObject.resource, { userName: 'a', [ENTERPRISE]: { manager: { value: 'm-3' } } });

    const complex = patch('User', user(), body({ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: 'm-4' } }));
    assert.deepEqual((complex.resource[ENTERPRISE] as Json).manager, { value: 'm-4', displayName: 'Jane Doe' });
  });
});

describe('applyPatch: Okta requests (SCIM 2.0 protocol reference)', () => {
  test('deactivate a user', () => {
    const result = patch('User', user(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    assert.equal(result.resource.active, false);
    assert.equal(result.changed, true);
  });

  test('update a group name (the value object carries the group id)', () => {
    const request = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { id: 'abf4dd94-a4c0-4f67-89c9-76b03340cb9b', displayName: 'Test SCIMv2' } }],
    };
    const result = patch('Group', group(), request, { id: 'abf4dd94-a4c0-4f67-89c9-76b03340cb9b' });
    assert.deepEqual(result.resource, { displayName: 'Test SCIMv2', externalId: 'g-1' });
    assert.deepEqual(patch('Group', group(), request).resource, result.resource);
    assertScimError(() => patch('Group', group(), request, { id: 'another-id' }), 400, 'mutability', /"id"/);
  });

  test('update group membership: remove by filter and add in one request', () => {
    const result = patch('Group', group(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'remove', path: 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]' },
        { op: 'add', path: 'members', value: [{ value: '23a35c27-23d3-4c03-b4c5-6443c09e7173', display: 'test.user@okta.local' }] },
      ],
    });
    assert.deepEqual(result.membership, {
      add: [{ value: '23a35c27-23d3-4c03-b4c5-6443c09e7173' }],
      remove: ['89bb1940-b905-4575-9e7f-6f887cfb368e'],
      removeAll: false,
    });
    assert.equal(result.changed, false);
  });

  test('full push of the membership with replace', () => {
    const result = patch('Group', group(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        {
          op: 'replace',
          path: 'members',
          value: [
            { value: '23a35c27-23d3-4c03-b4c5-6443c09e7173', display: 'test.user@okta.local' },
            { value: '89bb1940-b905-4575-9e7f-6f887cfb368e', display: 'test.user@okta.local' },
          ],
        },
      ],
    });
    assert.deepEqual(result.membership, {
      add: [{ value: '23a35c27-23d3-4c03-b4c5-6443c09e7173' }, { value: '89bb1940-b905-4575-9e7f-6f887cfb368e' }],
      remove: [],
      removeAll: true,
    });
  });
});

describe('applyPatch: add', () => {
  test('add to a singular attribute sets or replaces it', () => {
    assert.equal(patch('User', user(), body({ op: 'add', path: 'title', value: 'Tour Guide' })).resource.title, 'Tour Guide');
    assert.equal(patch('User', user(), body({ op: 'add', path: 'userName', value: 'babs' })).resource.userName, 'babs');
  });

  test('add to a complex attribute merges sub-attributes', () => {
    const result = patch('User', user(), body({ op: 'add', path: 'name', value: { middleName: 'Jane', GIVENNAME: 'Babs' } }));
    assert.deepEqual(result.resource.name, { givenName: 'Babs', familyName: 'Jensen', middleName: 'Jane' });
  });

  test('attribute names are case-insensitive and written canonically', () => {
    const result = patch('User', { userName: 'a' }, body(
      { op: 'add', path: 'NICKNAME', value: 'x' },
      { op: 'add', path: 'Name.GivenName', value: 'G' },
      { op: 'add', path: 'urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User:DEPARTMENT', value: 'D' },
      { op: 'add', path: 'urn:ietf:params:scim:schemas:core:2.0:User:Title', value: 'T' },
      { op: 'add', value: { DisplayName: 'Disp', 'URN:ietf:params:scim:schemas:extension:roster:2.0:User': { LOCATION: 'Berlin' } } },
    ));
    assert.deepEqual(result.resource, {
      userName: 'a',
      nickName: 'x',
      name: { givenName: 'G' },
      title: 'T',
      displayName: 'Disp',
      [ENTERPRISE]: { department: 'D' },
      [HR]: { location: 'Berlin' },
    });
  });

  test('add to a multi-valued attribute appends, without duplicating an identical value', () => {
    const result = patch('User', user(), body({
      op: 'add',
      path: 'emails',
      value: [{ value: 'babs@home.example', type: 'home' }, { value: 'other@example.com', type: 'other' }],
    }));
    assert.deepEqual(result.resource.emails, [...(user().emails as Json[]), { value: 'other@example.com', type: 'other' }]);

    const same = patch('User', user(), body({ op: 'add', path: 'emails', value: [{ type: 'home', value: 'babs@home.example' }] }));
    assert.equal(same.changed, false);
    assert.deepEqual(same.resource, user());
  });

  test('a new primary value clears the other primaries', () => {
    const result = patch('User', user(), body({ op: 'add', path: 'emails', value: [{ value: 'new@example.com', type: 'work', primary: 'True' }] }));
    assert.deepEqual(result.resource.emails, [
      { value: 'bjensen@example.com', type: 'work', primary: false },
      { value: 'babs@home.example', type: 'home' },
      { value: 'new@example.com', type: 'work', primary: true },
    ]);
    const viaFilter = patch('User', user(), body({ op: 'replace', path: 'emails[type eq "home"].primary', value: true }));
    assert.deepEqual(viaFilter.resource.emails, [
      { value: 'bjensen@example.com', type: 'work', primary: false },
      { value: 'babs@home.example', type: 'home', primary: true },
    ]);
  });

  test('re-adding the current primary value keeps it primary', () => {
    const result = patch('User', user(), body({ op: 'add', path: 'emails', value: [{ value: 'bjensen@example.com', type: 'work', primary: true }] }));
    assert.equal(result.changed, false);
  });

  test('path-less add with nested complex values, dotted and filtered keys', () => {
    const result = patch('User', { userName: 'a' }, body({
      op: 'add',
      value: {
        name: { familyName: 'F' },
        'name.givenName': 'G',
        'emails[type eq "work"].value': 'w@example.com',
        emails: [{ value: 'h@example.com', type: 'home', primary: 'False' }],
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter': '4130',
        [ENTERPRISE]: { division: 'Theme Park' },
      },
    }));
    assert.deepEqual(result.resource, {
      userName: 'a',
      name: { familyName: 'F', givenName: 'G' },
      emails: [{ type: 'work', value: 'w@example.com' }, { value: 'h@example.com', type: 'home', primary: false }],
      [ENTERPRISE]: { costCenter: '4130', division: 'Theme Park' },
    });
  });

  test('an extension URN as path takes an object of its attributes', () => {
    const result = patch('User', { userName: 'a' }, body({ op: 'add', path: HR, value: { hrStatus: 'Active', startDate: '2024-05-01T00:00:00Z' } }));
    assert.deepEqual(result.resource[HR], { hrStatus: 'Active', startDate: '2024-05-01T00:00:00Z' });
  });

  test('password is accepted and kept for the caller to hash', () => {
    const result = patch('User', user(), body({ op: 'replace', value: { password: 't1meMa$heen' } }));
    assert.equal(result.resource.password, 't1meMa$heen');
  });
});

describe('applyPatch: replace', () => {
  test('replace a multi-valued attribute without filter replaces all values', () => {
    const result = patch('User', user(), body({ op: 'replace', path: 'emails', value: [{ value: 'only@example.com', type: 'work' }] }));
    assert.deepEqual(result.resource.emails, [{ value: 'only@example.com', type: 'work' }]);
  });

  test('replace through a filter without sub-attribute swaps the matched value', () => {
    const result = patch('User', user(), body({ op: 'replace', path: 'emails[type eq "home"]', value: { value: 'new@home.example', type: 'home', display: 'Home' } }));
    assert.deepEqual(result.resource.emails, [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'new@home.example', type: 'home', display: 'Home' },
    ]);
  });

  test('replace through a filter that matches nothing is noTarget', () => {
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'emails[type eq "other"].value', value: 'x@example.com' })), 400, 'noTarget', /emails/);
    assertScimError(() => patch('User', { userName: 'a' }, body({ op: 'Replace', path: 'emails[type eq "work"].value', value: 'x@example.com' })), 400, 'noTarget');
  });

  test('replace on a complex attribute leaves unspecified sub-attributes alone', () => {
    const result = patch('User', user(), body({ op: 'replace', path: 'name', value: { givenName: 'Babs' } }));
    assert.deepEqual(result.resource.name, { givenName: 'Babs', familyName: 'Jensen' });
  });

  test('replace with null unassigns', () => {
    const result = patch('User', user(), body({ op: 'replace', path: 'externalId', value: null }, { op: 'replace', value: { name: { familyName: null } } }));
    assert.equal('externalId' in result.resource, false);
    assert.deepEqual(result.resource.name, { givenName: 'Barbara' });
  });

  test('a PATCH that changes nothing reports changed: false', () => {
    const cases: unknown[] = [
      body({ op: 'replace', path: 'userName', value: 'bjensen@example.com' }),
      body({ op: 'Replace', path: 'active', value: 'True' }),
      body({ op: 'replace', value: { name: { givenName: 'Barbara' }, 'name.familyName': 'Jensen' } }),
      body({ op: 'add', path: 'emails[type eq "work"].value', value: 'bjensen@example.com' }),
      body({ op: 'remove', path: 'emails[type eq "other"]' }),
      body({ op: 'remove', path: 'nickName' }),
      body({ op: 'remove', path: 'name.middleName' }),
      body({ op: 'add', path: 'title', value: 'T' }, { op: 'remove', path: 'title' }),
    ];
    for (const request of cases) {
      const result = patch('User', user(), request);
      assert.equal(result.changed, false, JSON.stringify(request));
      assert.deepEqual(result.resource, user());
    }
  });
});

describe('applyPatch: remove', () => {
  test('remove a whole attribute and a sub-attribute', () => {
    const result = patch('User', user(), body({ op: 'remove', path: 'phoneNumbers' }, { op: 'remove', path: 'name.givenName' }));
    assert.equal('phoneNumbers' in result.resource, false);
    assert.deepEqual(result.resource.name, { familyName: 'Jensen' });
    const emptied = patch('User', user(), body({ op: 'remove', path: 'name.givenName' }, { op: 'remove', path: 'name.familyName' }));
    assert.equal('name' in emptied.resource, false);
  });

  test('remove values through a filter, and sub-attributes of filtered values', () => {
    const result = patch('User', user(), body({ op: 'remove', path: 'emails[type eq "home"]' }));
    assert.deepEqual(result.resource.emails, [{ value: 'bjensen@example.com', type: 'work', primary: true }]);
    const sub = patch('User', user(), body({ op: 'remove', path: 'emails[type eq "work"].primary' }));
    assert.deepEqual(sub.resource.emails, [{ value: 'bjensen@example.com', type: 'work' }, { value: 'babs@home.example', type: 'home' }]);
    const last = patch('User', user(), body({ op: 'remove', path: 'phoneNumbers[value eq "555-0100"]' }));
    assert.equal('phoneNumbers' in last.resource, false);
  });

  test('remove a sub-attribute of every value', () => {
    const result = patch('User', user(), body({ op: 'remove', path: 'emails.type' }));
    assert.deepEqual(result.resource.emails, [{ value: 'bjensen@example.com', primary: true }, { value: 'babs@home.example' }]);
  });

  test('remove by value from a multi-valued attribute', () => {
    const result = patch('User', user(), body({ op: 'remove', path: 'emails', value: [{ value: 'babs@home.example' }] }));
    assert.deepEqual(result.resource.emails, [{ value: 'bjensen@example.com', type: 'work', primary: true }]);
  });

  test('remove extension attributes; an emptied extension disappears', () => {
    const result = patch('User', user(), body(
      { op: 'remove', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department' },
      { op: 'remove', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager' },
    ));
    assert.equal(ENTERPRISE in result.resource, false);
    const whole = patch('User', user(), body({ op: 'remove', path: ENTERPRISE }));
    assert.equal(ENTERPRISE in whole.resource, false);
    const managerValue = patch('User', user(), body({ op: 'remove', path: `${ENTERPRISE}:manager.value` }));
    assert.deepEqual((managerValue.resource[ENTERPRISE] as Json).manager, { displayName: 'Jane Doe' });
  });

  test('required attributes cannot be removed', () => {
    assertScimError(() => patch('User', user(), body({ op: 'remove', path: 'userName' })), 400, 'invalidValue', /userName/);
    assertScimError(() => patch('Group', group(), body({ op: 'remove', path: 'displayName' })), 400, 'invalidValue', /displayName/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', value: { userName: null } })), 400, 'invalidValue', /userName/);
  });
});

describe('applyPatch: group members', () => {
  const G = 'Group';

  test('remove members with no value removes them all', () => {
    assert.deepEqual(patch(G, group(), body({ op: 'remove', path: 'members' })).membership, { add: [], remove: [], removeAll: true });
  });

  test('several ids in one filter', () => {
    const result = patch(G, group(), body({ op: 'remove', path: 'members[value eq "a" or value eq "b" or VALUE eq "c"]' }));
    assert.deepEqual(result.membership, { add: [], remove: ['a', 'b', 'c'], removeAll: false });
  });

  test('path-less add and replace with a members value', () => {
    const added = patch(G, group(), body({ op: 'add', value: { members: [{ value: 'u1', type: 'user' }, { value: 'g2', type: 'GROUP' }] } }));
    assert.deepEqual(added.membership, { add: [{ value: 'u1', type: 'User' }, { value: 'g2', type: 'Group' }], remove: [], removeAll: false });
    const replaced = patch(G, group(), body({ op: 'replace', value: { displayName: 'New', members: [{ value: 'u1' }] } }));
    assert.deepEqual(replaced.membership, { add: [{ value: 'u1' }], remove: [], removeAll: true });
    assert.equal(replaced.resource.displayName, 'New');
    assert.equal('members' in replaced.resource, false);
    const emptied = patch(G, group(), body({ op: 'replace', path: 'members', value: [] }));
    assert.deepEqual(emptied.membership, { add: [], remove: [], removeAll: true });
  });

  test('operations compose in order', () => {
    const addThenRemove = patch(G, group(), body({ op: 'add', path: 'members', value: [{ value: 'a' }, { value: 'b' }] }, { op: 'remove', path: 'members[value eq "A"]' }));
    assert.deepEqual(addThenRemove.membership, { add: [{ value: 'b' }], remove: ['A'], removeAll: false });
    const removeThenAdd = patch(G, group(), body({ op: 'remove', path: 'members[value eq "a"]' }, { op: 'add', path: 'members', value: [{ value: 'a' }] }));
    assert.deepEqual(removeThenAdd.membership, { add: [{ value: 'a' }], remove: [], removeAll: false });
    const addThenReplace = patch(G, group(), body({ op: 'add', path: 'members', value: [{ value: 'a' }] }, { op: 'replace', path: 'members', value: [{ value: 'b' }] }, { op: 'remove', path: 'members[value eq "c"]' }));
    assert.deepEqual(addThenReplace.membership, { add: [{ value: 'b' }], remove: [], removeAll: true });
  });

  test('member values must be non-empty strings with a known type', () => {
    assertScimError(() => patch(G, group(), body({ op: 'add', path: 'members', value: [{ display: 'x' }] })), 400, 'invalidValue', /non-empty string/);
    assertScimError(() => patch(G, group(), body({ op: 'add', path: 'members', value: [{ value: '' }] })), 400, 'invalidValue');
    assertScimError(() => patch(G, group(), body({ op: 'add', path: 'members', value: [{ value: 42 }] })), 400, 'invalidValue');
    assertScimError(() => patch(G, group(), body({ op: 'add', path: 'members', value: ['u1'] })), 400, 'invalidValue');
    assertScimError(() => patch(G, group(), body({ op: 'add', path: 'members', value: [{ value: 'u1', type: 'Device' }] })), 400, 'invalidValue', /Device/);
    assertScimError(() => patch(G, group(), body({ op: 'add', path: 'members', value: [{ value: 'u1', role: 'owner' }] })), 400, 'invalidValue', /role/);
  });

  test('member paths other than members and members[value eq …] are refused', () => {
    assertScimError(() => patch(G, group(), body({ op: 'remove', path: 'members[type eq "User"]' })), 400, 'invalidFilter');
    assertScimError(() => patch(G, group(), body({ op: 'remove', path: 'members[value ne "a"]' })), 400, 'invalidFilter');
    assertScimError(() => patch(G, group(), body({ op: 'add', path: 'members[value eq "a"].display', value: 'x' })), 400, 'invalidPath');
    assertScimError(() => patch(G, group(), body({ op: 'replace', path: 'members.value', value: 'x' })), 400, 'invalidPath');
  });
});

describe('applyPatch: errors', () => {
  test('readOnly attributes are mutability errors', () => {
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'id', value: 'x' })), 400, 'mutability', /"id"/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'meta.created', value: '2020-01-01T00:00:00Z' })), 400, 'mutability', /meta/);
    assertScimError(() => patch('User', user(), body({ op: 'add', path: 'groups', value: [{ value: 'g' }] })), 400, 'mutability', /groups/);
    assertScimError(() => patch('User', user(), body({ op: 'remove', path: 'groups[value eq "g"]' })), 400, 'mutability');
    assertScimError(() => patch('User', user(), body({ op: 'replace', value: { meta: { version: 'W/"1"' } } })), 400, 'mutability', /meta/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: `${ENTERPRISE}:manager.displayName`, value: 'Bob' })), 400, 'mutability', /displayName/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: 'm', displayName: 'Bob' } })), 400, 'mutability');
    assertScimError(() => patch('Group', group(), body({ op: 'replace', value: { id: 'x', displayName: 'y' } }), { id: 'real-id' }), 400, 'mutability');
  });

  test('immutable attributes may be set when absent but not changed', () => {
    const externalId = coreAttributes('User').get('externalid')!;
    const saved = externalId.mutability;
    externalId.mutability = 'immutable';
    try {
      const { externalId: _omit, ...withoutExternalId } = user();
      assert.equal(patch('User', withoutExternalId, body({ op: 'add', path: 'externalId', value: 'x' })).resource.externalId, 'x');
      assert.equal(patch('User', user(), body({ op: 'replace', path: 'externalId', value: 'bjensen' })).changed, false);
      assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'externalId', value: 'other' })), 400, 'mutability', /immutable/);
      assertScimError(() => patch('User', user(), body({ op: 'remove', path: 'externalId' })), 400, 'mutability');
    } finally {
      externalId.mutability = saved;
    }
  });

  test('unknown attributes name themselves: invalidPath in a path, invalidValue in a value', () => {
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'favouriteColour', value: 'x' })), 400, 'invalidPath', /favouriteColour/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'name.nickname', value: 'x' })), 400, 'invalidPath', /name\.nickname/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: `${ENTERPRISE}:shoeSize`, value: 'x' })), 400, 'invalidPath', /shoeSize/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', value: { favouriteColour: 'x' } })), 400, 'invalidValue', /favouriteColour/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', value: { [ENTERPRISE]: { shoeSize: 44 } } })), 400, 'invalidValue', /shoeSize/);
    assertScimError(() => patch('User', user(), body({ op: 'add', path: 'name', value: { nick: 'x' } })), 400, 'invalidValue', /nick/);
    assertScimError(() => patch('User', user(), body({ op: 'add', path: 'emails', value: [{ value: 'x', label: 'y' }] })), 400, 'invalidValue', /label/);
    assertScimError(() => patch('Group', group(), body({ op: 'add', path: 'userName', value: 'x' })), 400, 'invalidPath', /userName/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'emails[colour eq "red"].value', value: 'x' })), 400, 'invalidFilter', /colour/);
  });

  test('values of the wrong type are invalidValue', () => {
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'active', value: 'yes' })), 400, 'invalidValue', /active/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'userName', value: 5 })), 400, 'invalidValue', /userName/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'name', value: 'Babs Jensen' })), 400, 'invalidValue', /name/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: `${HR}:startDate`, value: 'soon' })), 400, 'invalidValue', /startDate/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: HR, value: 'x' })), 400, 'invalidValue');
  });

  test('paths that cannot be applied', () => {
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'emails.value', value: 'x' })), 400, 'invalidPath', /filter/);
    assertScimError(() => patch('User', user(), body({ op: 'replace', path: 'name[givenName eq "B"].familyName', value: 'x' })), 400, 'invalidPath', /name/);
    assertScimError(() => patch('User', user(), body({ op: 'add', path: 'emails', value: [{ value: 'a', primary: true }, { value: 'b', primary: true }] })), 400, 'invalidValue', /primary/);
    assertScimError(() => patch('User', user(), body({ op: 'add', value: { 'emails[type eq "work"': 'x' } })), 400, 'invalidValue', /emails/);
  });

  test('the PATCH is atomic: a failing operation returns nothing and names its position', () => {
    const current = user();
    const snapshot = structuredClone(current);
    const error = assertScimError(
      () => patch('User', current, body({ op: 'replace', path: 'title', value: 'T' }, { op: 'replace', path: 'id', value: 'x' })),
      400,
      'mutability',
      /^Operation 2 \(replace\)/,
    );
    assert.ok(error);
    assert.deepEqual(current, snapshot);
  });
});

test('current is never mutated', () => {
  const current = user();
  const snapshot = structuredClone(current);
  // `patch` freezes `current`, so any write to it would throw in strict mode.
  const result = patch('User', current, body(
    { op: 'add', path: 'emails', value: [{ value: 'n@example.com', type: 'other', primary: true }] },
    { op: 'replace', path: 'name.givenName', value: 'B' },
    { op: 'remove', path: 'phoneNumbers[type eq "work"]' },
    { op: 'replace', path: `${ENTERPRISE}:manager`, value: 'm-9' },
    { op: 'remove', path: 'emails.type' },
  ));
  assert.deepEqual(current, snapshot);
  assert.notEqual(result.resource.name, current.name);
  assert.equal(result.changed, true);
});
