/**
 * A downstream SCIM app for tests: a real HTTP server on 127.0.0.1 with an in-memory store, that
 * can be told to misbehave. It is the "other side" of Roster's outbound sync, so it records every
 * request it receives (method, path, body, arrival time) and what it answered.
 *
 * Faults (each consumed by the next matching request, or standing while a mode is set):
 *   fail(n, fault)   the next n requests get `fault`: { status: 500 } | { status: 429, retryAfter }
 *                    | { kind: 'timeout' } (never answers) | { kind: 'reset' } (socket destroyed)
 *                    | { kind: 'slow', ms } (answers normally, late)
 *   down(fault?)     every request fails (default 503) until up()
 *   reject(pred)     requests whose body matches get 400 invalidValue (a content rejection)
 * Paging faults: `shortPages: n` caps every page at n and reports totalResults as the page size
 * (python-scim's scim2-server); `unlisted` hides users from listings only.
 * AWS mode (`aws: true`) enforces IAM Identity Center's documented limits: at most 100 membership
 * changes per PATCH and 100 members on create, no replace/remove-all of members, groups returned
 * with an empty member list, only `eq` filters, cursor paging with at most 100 per page.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  | { status: number; retryAfter?: string; body?: unknown }
  | { kind: 'timeout' }
  | { kind: 'reset' }
  | { kind: 'slow'; ms: number };

export interface ReceivedRequest {
  method: string;
  path: string;
  body: unknown;
  at: number;
  status: number;
}

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a free-form SCIM document

export interface FaultTargetOptions {
  token?: string;
  aws?: boolean;
  /** Most requests per second before answering 429 (Retry-After 1); undefined = unlimited. */
  maxRequestsPerSecond?: number;
  /** Record request bodies (turn off for big benchmarks). */
  recordBodies?: boolean;
  /**
   * Index paging as python-scim's scim2-server does it: at most this many per page whatever
   * `count` asks for, and `totalResults` equal to the page's size instead of the total.
   */
  shortPages?: number;
  /** Users left out of list responses (still found by a filter, still a 409 on create): as if beyond the pages read. */
  unlisted?: (user: Doc) => boolean;
}

export interface FaultTarget {
  url: string;
  /** The bearer token it accepts; may be changed (credential rotation). */
  token: string;
  users: Map<string, Doc>;
  groups: Map<string, Doc & { members: Set<string> }>;
  requests: ReceivedRequest[];
  /** Highest number of requests in flight at once. */
  maxInFlight: number;
  /** Requests received and not yet answered, now. */
  inFlightNow(): number;
  fail(count: number, fault: Fault, match?: (method: string, path: string) => boolean): void;
  down(fault?: Fault): void;
  up(): void;
  reject(predicate: (method: string, path: string, body: any) => boolean): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Seeds a remote user directly (as if created by someone else). */
  addUser(doc: Doc): Doc;
  userByName(userName: string): Doc | undefined;
  groupByName(displayName: string): (Doc & { members: Set<string> }) | undefined;
  onRequest?: (request: ReceivedRequest) => void;
  close(): Promise<void>;
}

const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

function scimError(status: number, detail: string, scimType?: string): Doc {
  return { schemas: [ERROR], status: String(status), ...(scimType ? { scimType } : {}), detail };
}

/** Parses `attr eq "value"` (optionally joined with `and`); anything else is unsupported here. */
function parseEqFilter(filter: string): Array<[string, string]> | undefined {
  const parts = filter.split(/\s+and\s+/i);
  const out: Array<[string, string]> = [];
  for (const part of parts) {
    const m = /^\s*([\w.:-]+)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$/i.exec(part);
    if (!m) return undefined;
    out.push([m[1]!, JSON.parse(m[2]!) as string]);
  }
  return out;
}

function valueAt(doc: Doc, path: string): unknown {
  if (path === 'members.value' || path === 'members') return undefined;
  const urn = /^(urn:.*):([^:]+)$/.exec(path);
  if (urn) return (doc[urn[1]!] as Doc | undefined)?.[urn[2]!];
  return path.split('.').reduce<unknown>((cur, key) => (cur && typeof cur === 'object' ? (cur as Doc)[key] : undefined), doc);
}

/** Applies one PATCH op to a document (paths: `a`, `a.b`, `urn:…:a`, `urn:…:a.b`). */
function applyAttributeOp(doc: Doc, op: string, path: string | undefined, value: unknown): void {
  if (!path) {
    if (op !== 'remove' && value && typeof value === 'object') Object.assign(doc, value);
    return;
  }
  let target: Doc = doc;
  let key = path;
  // `urn:…:enterprise:2.0:User:manager.value`: the schema URN (dots and all), then the attribute.
  const urn = /^(urn:.*):([^:]+)$/.exec(path);
  if (urn) {
    target = (doc[urn[1]!] ??= {}) as Doc;
    key = urn[2]!;
  }
  const parts = key.split('.');
  for (const part of parts.slice(0, -1)) target = (target[part] ??= {}) as Doc;
  const last = parts[parts.length - 1]!;
  if (op === 'remove') delete target[last];
  else target[last] = value;
}

export async function startFaultTarget(options: FaultTargetOptions = {}): Promise<FaultTarget> {
  const token = options.token ?? `target-${randomUUID()}`;
  const aws = options.aws === true;
  const recordBodies = options.recordBodies !== false;
  const users = new Map<string, Doc>();
  const groups = new Map<string, Doc & { members: Set<string> }>();
  const requests: ReceivedRequest[] = [];
  const queued: Array<{ fault: Fault; match?: ((method: string, path: string) => boolean) | undefined }> = [];
  let standing: Fault | undefined;
  let rejecter: ((method: string, path: string, body: any) => boolean) | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  let inFlight = 0;
  const sockets = new Set<Socket>();
  const window: number[] = [];

  const target: FaultTarget = {
    url: '',
    token,
    users,
    groups,
    requests,
    maxInFlight: 0,
    inFlightNow: () => inFlight,
    fail(count, fault, match) {
      for (let i = 0; i < count; i++) queued.push({ fault, match });
    },
    down(fault = { status: 503 }) {
      standing = fault;
    },
    up() {
      standing = undefined;
    },
    reject(predicate) {
      rejecter = predicate;
    },
    addUser(doc) {
      const id = randomUUID();
      const stored = { ...doc, id };
      users.set(id, stored);
      return stored;
    },
    userByName: (userName) => [...users.values()].find((u) => String(u.userName).toLowerCase() === userName.toLowerCase()),
    groupByName: (displayName) => [...groups.values()].find((g) => g.displayName === displayName),
    close: async () => undefined,
  };

  const renderGroup = (g: Doc & { members: Set<string> }, withMembers: boolean) => {
    const { members, ...rest } = g;
    return { ...rest, schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], members: aws || !withMembers ? [] : [...members].map((value) => ({ value })) };
  };

  function list(kind: 'Users' | 'Groups', query: URLSearchParams): [number, Doc] {
    const filter = query.get('filter');
    let all: Doc[] = kind === 'Users' ? [...users.values()] : [...groups.values()];
    if (filter) {
      const terms = parseEqFilter(filter);
      if (!terms) return [400, scimError(400, `unsupported filter ${filter}`, 'invalidFilter')];
      all = all.filter((doc) =>
        terms.every(([attr, value]) => {
          const actual = valueAt(doc, attr);
          return typeof actual === 'string' && (attr === 'userName' ? actual.toLowerCase() === value.toLowerCase() : actual === value);
        }),
      );
    }
    const withMembers = query.get('excludedAttributes') !== 'members';
    const render = (doc: Doc) => (kind === 'Groups' ? renderGroup(doc as Doc & { members: Set<string> }, withMembers) : { ...doc, schemas: doc.schemas ?? ['urn:ietf:params:scim:schemas:core:2.0:User'] });
    if (aws || query.has('cursor')) {
      if (query.has('startIndex') && aws) return [400, scimError(400, 'startIndex is not supported', 'invalidValue')];
      const count = Math.min(Number(query.get('count') ?? 100), aws ? 100 : 1000);
      const start = Number(query.get('cursor') || 0);
      const page = all.slice(start, start + count);
      const next = start + count < all.length ? String(start + count) : undefined;
      return [200, { schemas: [LIST], itemsPerPage: page.length, Resources: page.map(render), ...(next ? { nextCursor: next } : {}) }];
    }
    if (!filter && kind === 'Users' && options.unlisted) all = all.filter((doc) => !options.unlisted!(doc));
    const startIndex = Math.max(1, Number(query.get('startIndex') ?? 1));
    const count = Math.min(Number(query.get('count') ?? 100), options.shortPages ?? 1000);
    const page = all.slice(startIndex - 1, startIndex - 1 + count);
    const totalResults = options.shortPages !== undefined ? page.length : all.length;
    return [200, { schemas: [LIST], totalResults, startIndex, itemsPerPage: page.length, Resources: page.map(render) }];
  }

  function memberOps(group: Doc & { members: Set<string> }, operations: Doc[]): [number, Doc] | undefined {
    let changes = 0;
    for (const operation of operations) {
      const op = String(operation.op).toLowerCase();
      const path = operation.path as string | undefined;
      if (path === undefined || !path.startsWith('members')) continue;
      const filtered = /^members\[value eq "([^"]+)"\]$/.exec(path);
      if (op === 'add') changes += Array.isArray(operation.value) ? operation.value.length : 0;
      else if (op === 'remove') changes += filtered ? 1 : Array.isArray(operation.value) ? operation.value.length : 0;
      if (aws && (op === 'replace' || (op === 'remove' && !filtered && !Array.isArray(operation.value)))) {
        return [400, scimError(400, 'replacing or removing all members is not supported', 'invalidValue')];
      }
    }
    if (aws && changes > 100) return [400, scimError(400, `at most 100 membership changes per request, got ${changes}`, 'tooMany')];
    for (const operation of operations) {
      const op = String(operation.op).toLowerCase();
      const path = operation.path as string | undefined;
      if (path === undefined || !path.startsWith('members')) continue;
      const filtered = /^members\[value eq "([^"]+)"\]$/.exec(path);
      const values = Array.isArray(operation.value) ? operation.value.map((m: Doc) => String(m.value)) : [];
      for (const value of values) if (op === 'add' && !users.has(value) && !groups.has(value)) return [400, scimError(400, `member ${value} does not exist`, 'invalidValue')];
      if (op === 'add') values.forEach((v: string) => group.members.add(v));
      else if (op === 'remove' && filtered) group.members.delete(filtered[1]!);
      else if (op === 'remove') values.forEach((v: string) => group.members.delete(v));
      else if (op === 'replace') {
        group.members.clear();
        values.forEach((v: string) => group.members.add(v));
      }
    }
    return undefined;
  }

  function handle(method: string, url: URL, body: Doc | undefined): [number, Doc | undefined] {
    const parts = url.pathname.replace(/^\/scim\/v2/, '').split('/').filter(Boolean);
    const kind = parts[0];
    const id = parts[1] ? decodeURIComponent(parts[1]) : undefined;
    if (kind !== 'Users' && kind !== 'Groups') return [404, scimError(404, 'no such endpoint')];
    if (method === 'GET' && !id) return list(kind, url.searchParams);
    if (kind === 'Users') {
      if (method === 'POST') {
        if (!body?.userName) return [400, scimError(400, 'userName is required', 'invalidValue')];
        if (target.userByName(String(body.userName))) return [409, scimError(409, 'userName already exists', 'uniqueness')];
        if (aws && (!body.name?.givenName || !body.name?.familyName || !body.displayName)) return [400, scimError(400, 'givenName, familyName and displayName are required', 'invalidValue')];
        if (aws && Array.isArray(body.emails) && body.emails.length > 1) return [400, scimError(400, 'only one email is supported', 'invalidValue')];
        const created = target.addUser(body);
        return [201, created];
      }
      const user = id ? users.get(id) : undefined;
      if (!user) return [404, scimError(404, `User ${id} not found`)];
      if (method === 'GET') return [200, user];
      if (method === 'DELETE') {
        users.delete(user.id);
        for (const g of groups.values()) g.members.delete(user.id);
        return [204, undefined];
      }
      if (method === 'PUT') {
        const replaced = { ...body, id: user.id };
        users.set(user.id, replaced);
        return [200, replaced];
      }
      if (method === 'PATCH') {
        for (const operation of (body?.Operations ?? []) as Doc[]) applyAttributeOp(user, String(operation.op).toLowerCase(), operation.path, operation.value);
        return [200, user];
      }
    } else {
      if (method === 'POST') {
        if (!body?.displayName) return [400, scimError(400, 'displayName is required', 'invalidValue')];
        if (target.groupByName(String(body.displayName))) return [409, scimError(409, 'displayName already exists', 'uniqueness')];
        const members: Doc[] = Array.isArray(body.members) ? body.members : [];
        if (aws && members.length > 100) return [400, scimError(400, 'at most 100 members on create', 'tooMany')];
        const group = { ...body, id: randomUUID(), members: new Set(members.map((m) => String(m.value))) };
        groups.set(group.id, group);
        return [201, renderGroup(group, true)];
      }
      const group = id ? groups.get(id) : undefined;
      if (!group) return [404, scimError(404, `Group ${id} not found`)];
      if (method === 'GET') return [200, renderGroup(group, url.searchParams.get('excludedAttributes') !== 'members')];
      if (method === 'DELETE') {
        groups.delete(group.id);
        return [204, undefined];
      }
      if (method === 'PATCH') {
        const operations = (body?.Operations ?? []) as Doc[];
        const failed = memberOps(group, operations);
        if (failed) return failed;
        for (const operation of operations) {
          const path = operation.path as string | undefined;
          if (path?.startsWith('members')) continue;
          applyAttributeOp(group, String(operation.op).toLowerCase(), path, operation.value);
        }
        return [204, undefined];
      }
    }
    return [405, scimError(405, 'method not allowed')];
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        inFlight++;
        target.maxInFlight = Math.max(target.maxInFlight, inFlight);
        const at = Date.now();
        const method = req.method ?? 'GET';
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const path = url.pathname.replace(/^\/scim\/v2/, '') + url.search;
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Doc | undefined;
        try {
          body = text ? (JSON.parse(text) as Doc) : undefined;
        } catch {
          body = undefined;
        }
        const record = (status: number) => {
          const entry = { method, path, body: recordBodies ? body : undefined, at, status };
          requests.push(entry);
          target.onRequest?.(entry);
        };
        const send = (status: number, payload: Doc | undefined, headers: Record<string, string> = {}) => {
          record(status);
          res.writeHead(status, { 'content-type': 'application/scim+json', ...headers });
          res.end(payload === undefined ? undefined : JSON.stringify(payload));
        };
        try {
          if (req.headers.authorization !== `Bearer ${target.token}`) return send(401, scimError(401, 'bad token'));
          const index = queued.findIndex((q) => !q.match || q.match(method, path));
          const fault = index >= 0 ? queued.splice(index, 1)[0]!.fault : standing;
          if (options.maxRequestsPerSecond !== undefined) {
            while (window.length > 0 && window[0]! < at - 1000) window.shift();
            if (window.length >= options.maxRequestsPerSecond) return send(429, scimError(429, 'too many requests'), { 'retry-after': '1' });
            window.push(at);
          }
          if (fault && 'kind' in fault) {
            if (fault.kind === 'timeout') {
              record(0);
              return; // never answers; the client's timeout fires
            }
            if (fault.kind === 'reset') {
              record(0);
              req.socket.destroy();
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, fault.ms));
          } else if (fault) {
            return send(fault.status, (fault.body as Doc | undefined) ?? scimError(fault.status, 'injected fault'), fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
          }
          if (rejecter && body && rejecter(method, path, body)) return send(400, scimError(400, 'rejected by the target', 'invalidValue'));
          const [status, payload] = handle(method, url, body);
          send(status, payload);
        } finally {
          inFlight--;
        }
      })();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  target.url = `http://127.0.0.1:${port}/scim/v2`;
  target.close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return target;
}
