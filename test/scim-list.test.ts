import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTERPRISE, GROUP_SCHEMA, startTestServer, USER_SCHEMA, type TestServer } from './support/server.js';

let server: TestServer;
const departments = ['Finance', 'Sales', 'Engineering'];
before(async () => {
  server = await startTestServer({ maxPageSize: 50, defaultPageSize: 10 });
  for (let i = 1; i <= 30; i++) {
    const n = String(i).padStart(2, '0');
    const res = await server.request('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA, ENTERPRISE],
        userName: `user${n}@example.com`,
        displayName: `User ${n}`,
        title: i % 2 === 0 ? 'Analyst' : 'Engineer',
        active: i % 5 !== 0,
        emails: [{ value: `user${n}@${i % 3 === 0 ? 'corp.example' : 'example.com'}`, type: i % 4 === 0 ? 'home' : 'work', primary: true }],
        [ENTERPRISE]: { department: departments[i % 3], employeeNumber: `E${n}` },
      },
    });
    assert.equal(res.status, 201);
  }
});
after(async () => {
  await server.close();
});

const list = (query: string) => server.request('GET', `/Users?${query}`);
const names = (body: { Resources: Array<{ userName: string }> }) => body.Resources.map((r) => r.userName);
const q = encodeURIComponent;

describe('paging', () => {
  test('startIndex and count are honoured exactly', async () => {
    const res = await list('startIndex=2&count=3&sortBy=userName');
    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 30);
    assert.equal(res.body.startIndex, 2);
    assert.equal(res.body.itemsPerPage, 3);
    assert.deepEqual(names(res.body), ['user02@example.com', 'user03@example.com', 'user04@example.com']);
  });

  test('default page size applies without count; count over the maximum is capped', async () => {
    assert.equal((await list('')).body.itemsPerPage, 10);
    const capped = await list('count=5000');
    assert.equal(capped.body.itemsPerPage, 30);
    const sc = await server.request('GET', '/ServiceProviderConfig');
    assert.equal(sc.body.filter.maxResults, 50);
    assert.equal(sc.body.pagination.maxPageSize, 50);
  });

  test('count=0 returns only totalResults; startIndex<1 reads as 1; past the end is empty', async () => {
    const zero = await list('count=0');
    assert.equal(zero.body.totalResults, 30);
    assert.deepEqual(zero.body.Resources, []);
    assert.equal((await list('startIndex=0&count=1&sortBy=userName')).body.Resources[0].userName, 'user01@example.com');
    const past = await list('startIndex=31');
    assert.equal(past.body.totalResults, 30);
    assert.deepEqual(past.body.Resources, []);
  });

  test('cursor paging walks every user once, stable while users are created during the walk', async () => {
    const seen: string[] = [];
    let cursor = '';
    let pages = 0;
    for (;;) {
      const res = await list(`cursor=${q(cursor)}&count=7&sortBy=userName`);
      assert.equal(res.status, 200, res.text);
      seen.push(...names(res.body));
      if (pages === 1) {
        // A write in the middle of the walk must neither repeat nor skip the users that existed.
        await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'user00-late@example.com' } });
        await server.request('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: 'zz-late@example.com' } });
      }
      pages++;
      if (!res.body.nextCursor) break;
      cursor = res.body.nextCursor;
      assert.ok(pages < 20);
    }
    const original = Array.from({ length: 30 }, (_, i) => `user${String(i + 1).padStart(2, '0')}@example.com`);
    assert.equal(new Set(seen).size, seen.length, 'no user repeated');
    for (const name of original) assert.ok(seen.includes(name), `${name} was skipped`);
    assert.ok(seen.includes('zz-late@example.com'), 'a user created ahead of the cursor is reached');
    await server.request('DELETE', `/Users/${(await list(`filter=${q('userName eq "user00-late@example.com"')}`)).body.Resources[0].id}`);
    await server.request('DELETE', `/Users/${(await list(`filter=${q('userName eq "zz-late@example.com"')}`)).body.Resources[0].id}`);
  });

  test('cursor paging over a sort key with missing values, both directions, matches index paging', async () => {
    // nickName is set on every third user only: the rest sort as missing (last ascending, first descending).
    for (const n of ['03', '06', '09', '12']) {
      const id = (await list(`filter=${q(`userName eq "user${n}@example.com"`)}`)).body.Resources[0].id;
      await server.request('PATCH', `/Users/${id}`, { body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'nickName', value: `nick${n}` }] } });
    }
    for (const order of ['ascending', 'descending']) {
      const byIndex = names((await list(`sortBy=nickName&sortOrder=${order}&count=50`)).body);
      const byCursor: string[] = [];
      let cursor = '';
      for (let i = 0; i < 20; i++) {
        const res = await list(`cursor=${q(cursor)}&count=4&sortBy=nickName&sortOrder=${order}`);
        byCursor.push(...names(res.body));
        if (!res.body.nextCursor) break;
        cursor = res.body.nextCursor;
      }
      assert.deepEqual(byCursor, byIndex, order);
      const nicknamed = byIndex.filter((n) => ['user03@example.com', 'user06@example.com', 'user09@example.com', 'user12@example.com'].includes(n));
      if (order === 'ascending') assert.deepEqual(byIndex.slice(0, 4), nicknamed);
      else assert.deepEqual(byIndex.slice(-4), nicknamed);
    }
  });

  test('cursor paging in the default order (creation) walks the same sequence as index paging', async () => {
    const byIndex = names((await list('count=50')).body);
    const byCursor: string[] = [];
    let cursor = '';
    for (let i = 0; i < 20; i++) {
      const res = await list(`cursor=${q(cursor)}&count=6`);
      byCursor.push(...names(res.body));
      if (!res.body.nextCursor) break;
      cursor = res.body.nextCursor;
    }
    assert.deepEqual(byCursor, byIndex);
    const descending = names((await list('count=50&sortOrder=descending')).body);
    const first = await list('cursor=&count=6&sortOrder=descending');
    const second = await list(`cursor=${q(first.body.nextCursor)}&count=6&sortOrder=descending`);
    assert.deepEqual([...names(first.body), ...names(second.body)], descending.slice(0, 12));
  });

  test('a forged or foreign cursor is 400 invalidCursor', async () => {
    const first = await list('cursor=&count=5');
    // Change one character well inside the cursor: the last one may only carry base64 padding
    // bits (and may already be the replacement), which made this test pass or fail by chance.
    const cursor: string = first.body.nextCursor;
    const forgedCursor = `${cursor.slice(0, 2)}${cursor[2] === 'A' ? 'B' : 'A'}${cursor.slice(3)}`;
    const forged = await list(`cursor=${q(forgedCursor)}&count=5`);
    assert.equal(forged.status, 400);
    assert.equal(forged.body.scimType, 'invalidCursor');
    const otherQuery = await list(`cursor=${q(first.body.nextCursor)}&count=5&sortBy=title`);
    assert.equal(otherQuery.body.scimType, 'invalidCursor');
  });
});

describe('totalResults without a count statement when the first page holds every match', () => {
  /** The statements one request sends (knex's query event on the server's pool). */
  async function statementsOf(query: string) {
    const sent: string[] = [];
    const listen = (q: { sql: string }) => sent.push(q.sql);
    server.db.knex.on('query', listen);
    try {
      return { res: await list(query), sent };
    } finally {
      server.db.knex.off('query', listen);
    }
  }
  const counts = (sent: string[]) => sent.filter((sql) => /count\(\*\)/i.test(sql)).length;

  test('a userName eq lookup is one statement, with the exact total; none and full pages stay exact', async () => {
    const one = await statementsOf(`filter=${q('userName eq "USER07@example.com"')}`);
    assert.equal(one.res.body.totalResults, 1);
    assert.deepEqual(names(one.res.body), ['user07@example.com']);
    assert.equal(counts(one.sent), 0, 'no count statement for a page that is not full');
    const none = await statementsOf(`filter=${q('userName eq "nobody@example.com"')}`);
    assert.equal(none.res.body.totalResults, 0);
    assert.equal(counts(none.sent), 0);
    // A full first page, a later page and count=0 still count every match.
    const full = await statementsOf(`filter=${q('title eq "Analyst"')}&count=15`);
    assert.equal(full.res.body.totalResults, 15);
    assert.equal(counts(full.sent), 1);
    const later = await statementsOf(`filter=${q('title eq "Analyst"')}&startIndex=11&count=10`);
    assert.equal(later.res.body.totalResults, 15);
    assert.equal(later.res.body.itemsPerPage, 5);
    assert.equal(counts(later.sent), 1);
    assert.equal((await list(`filter=${q('title eq "Analyst"')}&count=0`)).body.totalResults, 15);
    // Cursor paging: a first page that holds every match knows its total; a full one counts.
    const short = await statementsOf(`filter=${q('title eq "Analyst"')}&cursor=&count=20`);
    assert.equal(short.res.body.totalResults, 15);
    assert.equal(short.res.body.nextCursor, undefined);
    assert.equal(counts(short.sent), 0);
    const paged = await statementsOf(`filter=${q('title eq "Analyst"')}&cursor=&count=10`);
    assert.equal(paged.res.body.totalResults, 15);
    assert.ok(paged.res.body.nextCursor);
    const second = await list(`filter=${q('title eq "Analyst"')}&cursor=${q(paged.res.body.nextCursor)}&count=10`);
    assert.equal(second.body.totalResults, 15);
    assert.equal(second.body.itemsPerPage, 5);
  });
});

describe('sorting and filtering', () => {
  test('sortBy/sortOrder in SQL, including extension attributes', async () => {
    const desc = await list('sortBy=userName&sortOrder=descending&count=2');
    assert.deepEqual(names(desc.body), ['user30@example.com', 'user29@example.com']);
    const byDept = await list(`sortBy=${q(`${ENTERPRISE}:department`)}&count=30`);
    const depts = byDept.body.Resources.map((r: Record<string, { department: string }>) => r[ENTERPRISE]!.department);
    assert.deepEqual(depts, [...depts].sort());
  });

  test('filters: case-insensitive userName, value paths, extension URNs, not/or grouping', async () => {
    assert.deepEqual(names((await list(`filter=${q('userName eq "USER07@EXAMPLE.COM"')}`)).body), ['user07@example.com']);
    const corpWork = await list(`filter=${q('emails[type eq "work" and value co "@corp"]')}&count=50&sortBy=userName`);
    assert.deepEqual(names(corpWork.body), ['user03@example.com', 'user06@example.com', 'user09@example.com', 'user15@example.com', 'user18@example.com', 'user21@example.com', 'user27@example.com', 'user30@example.com']);
    const finance = await list(`filter=${q(`${ENTERPRISE}:department eq "Finance" and title co "Analyst"`)}&count=50`);
    assert.equal(finance.body.totalResults, 5);
    const notEither = await list(`filter=${q('not (title eq "Analyst" or active eq false)')}&count=50`);
    assert.equal(notEither.body.totalResults, 12);
    const escaped = await list(`filter=${q('displayName eq "Nobody \\"quoted\\""')}`);
    assert.equal(escaped.status, 200);
    assert.equal(escaped.body.totalResults, 0);
  });

  test('attributes and excludedAttributes', async () => {
    const res = await list(`filter=${q('userName eq "user01@example.com"')}&attributes=userName,emails.value`);
    const [r] = res.body.Resources;
    assert.deepEqual(Object.keys(r).sort(), ['emails', 'id', 'schemas', 'userName']);
    assert.deepEqual(r.emails, [{ value: 'user01@example.com' }]);
    const ex = await list(`filter=${q('userName eq "user01@example.com"')}&excludedAttributes=emails,groups,${ENTERPRISE}:department`);
    assert.equal(ex.body.Resources[0].emails, undefined);
    assert.equal(ex.body.Resources[0].id !== undefined, true);
    assert.deepEqual(ex.body.Resources[0][ENTERPRISE], { employeeNumber: 'E01' });
    const whole = await list(`filter=${q('userName eq "user01@example.com"')}&attributes=${q(ENTERPRISE)}`);
    assert.deepEqual(Object.keys(whole.body.Resources[0]).sort(), ['id', 'schemas', ENTERPRISE].sort());
  });
});

describe('POST /.search', () => {
  test('per type, with the same semantics as GET', async () => {
    const res = await server.request('POST', '/Users/.search', {
      body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'title eq "Analyst"', sortBy: 'userName', startIndex: 1, count: 2, attributes: ['userName'] },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 15);
    assert.deepEqual(names(res.body), ['user02@example.com', 'user04@example.com']);
  });

  test('at the root, over Users and Groups, paged across both', async () => {
    await server.request('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Search Group' } });
    const all = await server.request('POST', '/.search', { body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], count: 50 } });
    assert.equal(all.status, 200);
    assert.equal(all.body.totalResults, 31);
    assert.equal(all.body.itemsPerPage, 31);
    const groupsOnly = await server.request('POST', '/.search', { body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'displayName sw "Search"' } });
    assert.equal(groupsOnly.body.totalResults, 1);
    assert.equal(groupsOnly.body.Resources[0].displayName, 'Search Group');
    const tail = await server.request('POST', '/.search', { body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], startIndex: 30, count: 5 } });
    assert.equal(tail.body.itemsPerPage, 2);
    assert.equal(tail.body.Resources[1].displayName, 'Search Group');
  });
});
