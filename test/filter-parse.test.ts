import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScimError } from '../src/scim/errors.js';
import type { FilterNode } from '../src/scim/filter/ast.js';
import {
  MAX_FILTER_COMPARISONS,
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  parseFilter,
  parsePatchPath,
} from '../src/scim/filter/parse.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

function rejects(fn: () => unknown, scimType: string, detailPattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ScimError, `expected a ScimError, got ${String(error)}`);
    assert.equal(error.status, 400);
    assert.equal(error.scimType, scimType, error.detail);
    if (detailPattern) assert.match(error.detail, detailPattern);
    return true;
  });
}

const cmp = (path: string, op: string, value: unknown): FilterNode => ({ kind: 'compare', path, op, value }) as FilterNode;
const pr = (path: string): FilterNode => ({ kind: 'present', path });

test('every comparison operator, case-insensitively', () => {
  for (const op of ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']) {
    assert.deepEqual(parseFilter(`userName ${op} "x"`), cmp('userName', op, 'x'));
    assert.deepEqual(parseFilter(`userName ${op.toUpperCase()} "x"`), cmp('userName', op, 'x'));
  }
  assert.deepEqual(parseFilter('title pr'), pr('title'));
  assert.deepEqual(parseFilter('title PR'), pr('title'));
});

test('values: JSON strings, numbers, booleans and null', () => {
  assert.deepEqual(parseFilter('x eq 42'), cmp('x', 'eq', 42));
  assert.deepEqual(parseFilter('x gt -1.5e3'), cmp('x', 'gt', -1500));
  assert.deepEqual(parseFilter('x eq 0.25'), cmp('x', 'eq', 0.25));
  assert.deepEqual(parseFilter('active eq true'), cmp('active', 'eq', true));
  assert.deepEqual(parseFilter('active eq False'), cmp('active', 'eq', false));
  assert.deepEqual(parseFilter('title eq null'), cmp('title', 'eq', null));
  assert.deepEqual(parseFilter('title eq ""'), cmp('title', 'eq', ''));
});

test('string escapes are decoded as JSON', () => {
  assert.deepEqual(parseFilter('title eq "a\\"b"'), cmp('title', 'eq', 'a"b'));
  assert.deepEqual(parseFilter('title eq "back\\\\slash"'), cmp('title', 'eq', 'back\\slash'));
  assert.deepEqual(parseFilter('title eq "caf\\u00e9"'), cmp('title', 'eq', 'café'));
  assert.deepEqual(parseFilter('title eq "tab\\there\\n\\/"'), cmp('title', 'eq', 'tab\there\n/'));
  assert.deepEqual(parseFilter('title eq "ünïcödé 日本"'), cmp('title', 'eq', 'ünïcödé 日本'));
  // Brackets, parentheses and keywords inside strings are just characters.
  assert.deepEqual(parseFilter('title eq "(a) [b] and or not"'), cmp('title', 'eq', '(a) [b] and or not'));
});

test('precedence: not > and > or, left-associative', () => {
  assert.deepEqual(parseFilter('a pr or b pr and c pr'), { kind: 'or', left: pr('a'), right: { kind: 'and', left: pr('b'), right: pr('c') } });
  assert.deepEqual(parseFilter('a pr and b pr or c pr'), { kind: 'or', left: { kind: 'and', left: pr('a'), right: pr('b') }, right: pr('c') });
  assert.deepEqual(parseFilter('a pr and b pr and c pr'), { kind: 'and', left: { kind: 'and', left: pr('a'), right: pr('b') }, right: pr('c') });
  assert.deepEqual(parseFilter('a pr OR b pr AnD c pr'), parseFilter('a pr or b pr and c pr'));
  assert.deepEqual(parseFilter('not (a pr) and b pr'), { kind: 'and', left: { kind: 'not', operand: pr('a') }, right: pr('b') });
});

test('parentheses group, and not (A or B) is the negation of the whole disjunction', () => {
  assert.deepEqual(parseFilter('(a pr or b pr) and c pr'), { kind: 'and', left: { kind: 'or', left: pr('a'), right: pr('b') }, right: pr('c') });
  assert.deepEqual(parseFilter('not (a pr or b pr)'), { kind: 'not', operand: { kind: 'or', left: pr('a'), right: pr('b') } });
  assert.deepEqual(parseFilter('NOT(a pr or b pr)'), { kind: 'not', operand: { kind: 'or', left: pr('a'), right: pr('b') } });
  assert.deepEqual(parseFilter('((a pr))'), pr('a'));
  assert.deepEqual(parseFilter('  a   pr  '), pr('a'));
});

test('attribute paths: sub-attributes and schema URN prefixes (URNs contain dots)', () => {
  assert.deepEqual(parseFilter('name.givenName eq "B"'), cmp('name.givenName', 'eq', 'B'));
  assert.deepEqual(parseFilter(`${ENTERPRISE}:department eq "Eng"`), cmp(`${ENTERPRISE}:department`, 'eq', 'Eng'));
  assert.deepEqual(parseFilter(`${ENTERPRISE}:manager.value pr`), pr(`${ENTERPRISE}:manager.value`));
  assert.deepEqual(
    parseFilter('urn:ietf:params:scim:schemas:core:2.0:User:name.familyName sw "J"'),
    cmp('urn:ietf:params:scim:schemas:core:2.0:User:name.familyName', 'sw', 'J'),
  );
  assert.deepEqual(parseFilter('groups.$ref pr'), pr('groups.$ref'));
});

test('value paths', () => {
  assert.deepEqual(parseFilter('emails[type eq "work" and value co "@corp"]'), {
    kind: 'valuePath',
    path: 'emails',
    filter: { kind: 'and', left: cmp('type', 'eq', 'work'), right: cmp('value', 'co', '@corp') },
  });
  assert.deepEqual(parseFilter('emails[not (type eq "work")] or userName sw "a"'), {
    kind: 'or',
    left: { kind: 'valuePath', path: 'emails', filter: { kind: 'not', operand: cmp('type', 'eq', 'work') } },
    right: cmp('userName', 'sw', 'a'),
  });
  assert.deepEqual(parseFilter(`${ENTERPRISE}:manager[value eq "x"]`), {
    kind: 'valuePath',
    path: `${ENTERPRISE}:manager`,
    filter: cmp('value', 'eq', 'x'),
  });
});

test('patch paths (RFC 7644 §3.5.2)', () => {
  assert.deepEqual(parsePatchPath('members'), { attribute: 'members' });
  assert.deepEqual(parsePatchPath('name.familyName'), { attribute: 'name.familyName' });
  assert.deepEqual(parsePatchPath(`${ENTERPRISE}:manager`), { attribute: `${ENTERPRISE}:manager` });
  assert.deepEqual(parsePatchPath('addresses[type eq "work"]'), { attribute: 'addresses', filter: cmp('type', 'eq', 'work') });
  assert.deepEqual(parsePatchPath('members[value eq "2819c223-7f76-453a-919d-413861904646"]'), {
    attribute: 'members',
    filter: cmp('value', 'eq', '2819c223-7f76-453a-919d-413861904646'),
  });
  assert.deepEqual(parsePatchPath('emails[type eq "work" and primary eq true].value'), {
    attribute: 'emails',
    filter: { kind: 'and', left: cmp('type', 'eq', 'work'), right: cmp('primary', 'eq', true) },
    subAttribute: 'value',
  });
});

test('malformed patch paths are invalidPath; a malformed filter inside [ ] is invalidFilter', () => {
  for (const path of ['', '   ', 'emails..value', 'a b', '[type eq "x"]', 'emails[type eq "work"]x', 'emails[type eq "work"].', 'emails[type eq "work"].value.x', 'emails[type eq "w"] and x pr']) {
    rejects(() => parsePatchPath(path), 'invalidPath');
  }
  for (const path of ['emails[type eq work]', 'emails[type eq "work"', 'emails[type eq "work" and]', 'emails[x[y eq 1]]', 'emails[type eq "unterminated]']) {
    rejects(() => parsePatchPath(path), 'invalidFilter');
  }
  rejects(() => parsePatchPath('x'.repeat(MAX_FILTER_LENGTH + 1)), 'invalidPath', /2048/);
});

test('invalid and hostile filters are 400 invalidFilter with a detail saying where and what was expected', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['userName eq bjensen', /unquoted value "bjensen" at position 13.*double quotes/],
    ["userName eq 'bjensen'", /unquoted value/],
    ['userName eq "x" and', /after "and" at position 20, found the end of the filter/],
    ['userName eq "x" or', /found the end of the filter/],
    ['userName eq', /expected a value .* found the end of the filter/],
    ['userName', /expected an operator/],
    ['userName equals "x"', /expected an operator .* found "equals"/],
    ['userName eq "x" userName eq "y"', /expected "and", "or" or the end of the filter at position 17/],
    ['and userName eq "x"', /expected an attribute path/],
    ['userName eq "x" and or title pr', /found "or"/],
    ['(userName eq "x"', /expected "\)" to close "\(" opened at position 1/],
    ['((userName eq "x")', /expected "\)"/],
    ['userName eq "x")', /unexpected "\)" at position 16: there is no matching "\("/],
    ['emails[type eq "work"', /expected "\]" to close "\["/],
    ['emails[type eq "work"]]', /unexpected "\]"/],
    ['emails[type eq "work" and x[y eq "1"]]', /nested "\["/],
    ['emails[type eq "work"].value eq "x"', /expected "and", "or"/],
    ['not userName eq "x"', /expected "\(" after "not"/],
    ['not', /expected "\(" after "not"/],
    ['()', /expected an attribute path/],
    ['userName eq "unterminated', /unterminated string starting at position 13/],
    ['userName eq "bad \\q escape"', /invalid string at position 13/],
    ['userName eq "raw\ttab"', /invalid string/],
    ['userName eq 01', /unquoted value/],
    ['userName eq 1.', /unquoted value/],
    ['user name eq "x"', /expected an operator/],
    ['"userName" eq "x"', /expected an attribute path/],
    ['1abc eq "x"', /invalid attribute path "1abc"/],
    ['name.given.name eq "x"', /invalid attribute path/],
    ["userName'); DROP TABLE users; -- eq \"x\"", /invalid attribute path/],
    ['urn:x;drop:userName eq "x"', /invalid attribute path/],
    ['foo:userName eq "x"', /invalid attribute path/],
    ['userName eq "x" ; DROP TABLE users', /expected "and", "or"/],
  ];
  for (const [filter, detail] of cases) rejects(() => parseFilter(filter), 'invalidFilter', detail);
});

test('limits: length, comparisons and nesting are enforced with a detail naming the limit', () => {
  assert.equal(MAX_FILTER_LENGTH, 2048);
  assert.equal(MAX_FILTER_COMPARISONS, 64);
  assert.equal(MAX_FILTER_DEPTH, 16);

  const atLength = `title eq "${'x'.repeat(MAX_FILTER_LENGTH - 11)}"`;
  assert.equal(atLength.length, MAX_FILTER_LENGTH);
  assert.equal(parseFilter(atLength).kind, 'compare');
  rejects(() => parseFilter(atLength + ' '), 'invalidFilter', /2049 characters long; the limit is 2048/);
  rejects(() => parseFilter('('.repeat(1_000_000)), 'invalidFilter', /the limit is 2048/);

  const comparisons = (n: number) => Array.from({ length: n }, (_, i) => `a${i} pr`).join(' or ');
  assert.equal(parseFilter(comparisons(MAX_FILTER_COMPARISONS)).kind, 'or');
  rejects(() => parseFilter(comparisons(MAX_FILTER_COMPARISONS + 1)), 'invalidFilter', /more than 64 comparisons/);

  const nested = (n: number) => `${'('.repeat(n)}a pr${')'.repeat(n)}`;
  assert.deepEqual(parseFilter(nested(MAX_FILTER_DEPTH)), pr('a'));
  rejects(() => parseFilter(nested(MAX_FILTER_DEPTH + 1)), 'invalidFilter', /deeper than 16/);
  const nots = (n: number) => `${'not ('.repeat(n)}a pr${')'.repeat(n)}`;
  assert.equal(parseFilter(nots(MAX_FILTER_DEPTH)).kind, 'not');
  rejects(() => parseFilter(nots(MAX_FILTER_DEPTH + 1)), 'invalidFilter', /deeper than 16/);
  // The nesting limit is hit while parsing, before the unbalanced input is even noticed.
  rejects(() => parseFilter('('.repeat(200)), 'invalidFilter', /deeper than 16/);
});

test('16 OR-groups (exponential for a DNF-expanding parser) parse into a linear AST', () => {
  const groups = Array.from({ length: 16 }, (_, i) => `(userName eq "u${i}" or title eq "t${i}")`);
  const filter = groups.join(' and ');
  const node = parseFilter(filter);
  // A left-leaning chain of 15 ANDs whose leaves are the 16 ORs, in order.
  const ors: FilterNode[] = [];
  let current = node;
  while (current.kind === 'and') {
    ors.unshift(current.right);
    current = current.left;
  }
  ors.unshift(current);
  assert.equal(ors.length, 16);
  ors.forEach((or, i) => assert.deepEqual(or, { kind: 'or', left: cmp('userName', 'eq', `u${i}`), right: cmp('title', 'eq', `t${i}`) }));

  // The same groups under a negation stay one NOT node (no De Morgan rewriting).
  const negated = parseFilter(`not (${filter})`);
  assert.equal(negated.kind, 'not');
  assert.deepEqual(negated.kind === 'not' ? negated.operand : undefined, node);
});
