/**
 * The benchmarked requests. Each kind generates its path and body per request from the seeded
 * data (random ids, random existing userNames, users not yet in the group), and names the route
 * the bare-Express ceiling answers it on.
 */
import type { RequestShape } from './measure.js';
import { seededUserName } from './seed.js';

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** One real response, replayed by the bare-Express ceiling. */
export interface CapturedResponse {
  key: string;
  method: RequestShape['method'];
  /** Express route of the real endpoint, e.g. /scim/v2/Users/:id */
  route: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function barePathPrefix(key: string): string {
  return `/${key}`;
}

/** Hands out items in order, wrapping around; `used` tells whether it wrapped. */
export class Cycler<T> {
  used = 0;
  constructor(readonly items: readonly T[]) {
    if (items.length === 0) throw new Error('Cycler needs at least one item');
  }
  next(): T {
    return this.items[this.used++ % this.items.length]!;
  }
}

export interface Workload {
  users: number;
  runTag: string;
  largeGroupId: string;
  largeGroupMembers: number;
  smallGroupId: string;
  smallGroupMembers: number;
  sampleUserIds: readonly string[];
  largeAdds: Cycler<string>;
  smallAdds: Cycler<string>;
  middleCursor: string;
  /** Number of the last POSTed user, shared by every POST so userNames never repeat. */
  posted: { n: number };
}

export interface RequestKind {
  key: string;
  label: (w: Workload) => string;
  route: string;
  shape: (w: Workload) => RequestShape;
  /** The distinct-value pool this kind consumes, to warn when a run wrapped around it. */
  pool?: (w: Workload) => Cycler<string>;
}

const randomOf = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const randomUserNumber = (w: Workload) => 1 + Math.floor(Math.random() * w.users);

function addMemberBody(id: string) {
  return { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] };
}

function newUserBody(w: Workload, n: number) {
  const userName = `bench.post.${w.runTag}.${n}@example.com`;
  return {
    schemas: [CORE_USER, ENTERPRISE],
    userName,
    externalId: `bench-${w.runTag}-${n}`,
    name: { givenName: 'Bench', familyName: `User${n}`, formatted: `Bench User${n}` },
    displayName: `Bench User${n}`,
    emails: [{ value: userName, type: 'work', primary: true }],
    active: true,
    [ENTERPRISE]: { employeeNumber: `B${n}`, department: 'Engineering' },
  };
}

export const REQUEST_KINDS: RequestKind[] = [
  {
    key: 'get-user',
    label: () => 'GET /Users/{id}',
    route: '/scim/v2/Users/:id',
    shape: (w) => ({ method: 'GET', path: () => `/scim/v2/Users/${randomOf(w.sampleUserIds)}` }),
  },
  {
    key: 'filter-username',
    label: () => 'GET /Users?filter=userName eq',
    route: '/scim/v2/Users',
    shape: (w) => ({
      method: 'GET',
      path: () => `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${seededUserName(randomUserNumber(w))}"`)}`,
    }),
  },
  {
    key: 'page-100',
    label: () => 'GET /Users?startIndex=1&count=100',
    route: '/scim/v2/Users',
    shape: () => ({ method: 'GET', path: () => '/scim/v2/Users?startIndex=1&count=100' }),
  },
  {
    key: 'cursor-middle',
    label: () => 'GET /Users?cursor=<middle>&count=100',
    route: '/scim/v2/Users',
    shape: (w) => ({ method: 'GET', path: () => `/scim/v2/Users?cursor=${encodeURIComponent(w.middleCursor)}&count=100` }),
  },
  {
    key: 'post-user',
    label: () => 'POST /Users',
    route: '/scim/v2/Users',
    shape: (w) => ({ method: 'POST', path: () => '/scim/v2/Users', body: () => newUserBody(w, ++w.posted.n) }),
  },
  {
    key: 'patch-large',
    label: (w) => `PATCH /Groups/{id} +1 member (${w.largeGroupMembers.toLocaleString('en-US')}-member group)`,
    route: '/scim/v2/Groups/:id',
    shape: (w) => ({ method: 'PATCH', path: () => `/scim/v2/Groups/${w.largeGroupId}`, body: () => addMemberBody(w.largeAdds.next()) }),
    pool: (w) => w.largeAdds,
  },
  {
    key: 'patch-small',
    label: (w) => `PATCH /Groups/{id} +1 member (${w.smallGroupMembers}-member group)`,
    route: '/scim/v2/Groups/:id',
    shape: (w) => ({ method: 'PATCH', path: () => `/scim/v2/Groups/${w.smallGroupId}`, body: () => addMemberBody(w.smallAdds.next()) }),
    pool: (w) => w.smallAdds,
  },
];

export function prefixed(shape: RequestShape, prefix: string): RequestShape {
  return { ...shape, path: () => `${prefix}${shape.path()}` };
}
