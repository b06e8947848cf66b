/**
 * The pure parts of outbound references (src/sync/references.ts) and of what an adoption
 * overwrites: which values of a pushed document are references, how they read in the target's ids,
 * and what is left out. The end-to-end behaviour is in test/sync-references.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { overwrittenValues } from '../connectors/scim/compare.js';
import { findReferences, translateReferences, type Resolution } from '../src/sync/references.js';
import { managersFirst } from '../src/sync/full-sync.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const CUSTOM = 'urn:example:params:scim:schemas:extension:acme:2.0:User';
const BASE = 'https://target.example.com/scim/v2';

test('the manager and any $ref naming a User or Group are references; external URLs are not', () => {
  const manager = randomUUID();
  const buddy = randomUUID();
  const team = randomUUID();
  const document = {
    userName: 'alice@example.com',
    photos: [{ value: 'https://cdn.example.com/alice.jpg' }],
    profileUrl: 'https://example.com/alice',
    [ENTERPRISE]: { department: 'Sales', manager: { value: manager, displayName: 'Mgr' } },
    [CUSTOM]: { buddy: { value: buddy, $ref: `https://roster.example.com/scim/v2/Users/${buddy}` }, teams: [{ $ref: `https://roster.example.com/scim/v2/Groups/${team}`, display: 'Team' }] },
  };
  assert.deepEqual(findReferences(document), [
    { attribute: `${ENTERPRISE}:manager`, type: 'User', id: manager },
    { attribute: `${CUSTOM}:buddy`, type: 'User', id: buddy },
    { attribute: `${CUSTOM}:teams`, type: 'Group', id: team },
  ]);
});

test("references read in the target's ids; pending and out-of-scope ones are left out with their reason", () => {
  const manager = randomUUID();
  const buddy = randomUUID();
  const team = randomUUID();
  const document = {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE, CUSTOM],
    userName: 'alice@example.com',
    [ENTERPRISE]: { manager: { value: manager, displayName: 'Mgr', $ref: `https://roster.example.com/scim/v2/Users/${manager}` } },
    [CUSTOM]: { buddy: { value: buddy }, teams: [{ $ref: `https://roster.example.com/scim/v2/Groups/${team}`, display: 'Team', role: 'lead' }] },
  };
  const resolutions = new Map<string, Resolution>([
    [`User:${manager}`, { kind: 'linked', remoteId: 'remote-mgr' }],
    [`Group:${team}`, { kind: 'linked', remoteId: 'remote team' }],
  ]);
  const translated = translateReferences(document, resolutions, BASE);
  // The custom `buddy` is not a reference (no $ref, not the manager): it goes as it is.
  assert.deepEqual(translated.document[ENTERPRISE], { manager: { value: 'remote-mgr', $ref: `${BASE}/Users/remote-mgr` } }, "the manager's read-only displayName is the target's to fill in");
  assert.deepEqual((translated.document[CUSTOM] as Record<string, unknown>).teams, [{ $ref: `${BASE}/Groups/remote%20team`, value: 'remote team', role: 'lead' }]);
  assert.deepEqual(translated.referencedIds.sort(), [manager, team].sort());
  assert.deepEqual(translated.heldBack, []);

  const pending = translateReferences(document, new Map([[`User:${manager}`, { kind: 'pending' }]]), BASE);
  assert.equal(pending.document[ENTERPRISE], undefined, 'an extension emptied by a held-back reference is not sent');
  assert.deepEqual(pending.document.schemas, ['urn:ietf:params:scim:schemas:core:2.0:User', CUSTOM]);
  assert.deepEqual((pending.document[CUSTOM] as Record<string, unknown>).teams, [], 'an unresolved group reference is left out of its list');
  assert.deepEqual(
    pending.heldBack.map((r) => [r.attribute, r.reason]),
    [
      [`${ENTERPRISE}:manager`, 'not-on-target-yet'],
      [`${CUSTOM}:teams`, 'out-of-scope'],
    ],
  );
  assert.deepEqual(pending.referencedIds.sort(), [manager, team].sort(), 'held-back references are still recorded, so their referrer is synced when they appear');

  const notRoster = translateReferences({ [ENTERPRISE]: { manager: { value: 'E1234' }, department: 'Sales' } }, new Map(), BASE);
  assert.deepEqual(notRoster.document, { [ENTERPRISE]: { department: 'Sales' } });
  assert.equal(notRoster.heldBack[0]!.reason, 'out-of-scope');
  assert.deepEqual(notRoster.referencedIds, []);
  assert.deepEqual(translateReferences({ userName: 'x' }, new Map(), BASE), { document: { userName: 'x' }, referencedIds: [], heldBack: [] });
});

test('creates go in waves, managers first; a cycle goes last', () => {
  const waves = managersFirst([
    { id: 'report', waitsFor: ['lead'] },
    { id: 'lead', waitsFor: ['ceo'] },
    { id: 'ceo', waitsFor: [] },
    { id: 'self', waitsFor: ['self'] },
    { id: 'outsider', waitsFor: ['someone-not-being-created'] },
    { id: 'a', waitsFor: ['b'] },
    { id: 'b', waitsFor: ['a'] },
  ]);
  assert.deepEqual(waves, [['ceo', 'self', 'outsider'], ['lead'], ['report'], ['a', 'b']]);
});

test('what an adoption overwrites: values the target holds that differ, per sub-attribute; added attributes are not listed', () => {
  const desired = { userName: 'carol@example.com', externalId: 'roster-id', title: 'Controller', name: { givenName: 'Carol', familyName: 'C' }, [ENTERPRISE]: { department: 'Finance' }, active: true };
  const remote = { id: 'r1', userName: 'Carol@Example.com', externalId: 'hr-123', name: { givenName: 'Carol', familyName: 'Old' }, [ENTERPRISE]: { department: 'Sales' }, active: true };
  assert.deepEqual(overwrittenValues(desired, remote), [
    { attribute: 'userName', remote: 'Carol@Example.com', desired: 'carol@example.com' },
    { attribute: 'externalId', remote: 'hr-123', desired: 'roster-id' },
    { attribute: 'name.familyName', remote: 'Old', desired: 'C' },
    { attribute: `${ENTERPRISE}:department`, remote: 'Sales', desired: 'Finance' },
  ]);
});
