/**
 * A real Roster HTTP server on a loopback port, backed by its own fresh database.
 */
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { refusedCredentials, type RefusedCredentials } from '../../src/auth/refused-credentials.js';
import { createApp, type AppDependencies } from '../../src/compose/app.js';
import type { SecretBox } from '../../src/lib/secret-box.js';
import { answerMalformedRequests } from '../../src/http/client-error.js';
import { composeWritePath } from '../../src/compose/write-path.js';
import type { ConnectorSet } from '../../src/sync/connector.js';
import type { WritePath } from '../../src/write/write-path.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { startTestPolicy, type PolicyTestOptions } from './policy.js';

export interface TestServer {
  url: string;
  scimUrl: string;
  token: string;
  db: TestDatabase;
  writePath: WritePath;
  /** The refused-credential limit and journal (flush() writes the counted refusals now). */
  refusals: RefusedCredentials;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface RequestOptions {
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  token?: string | null;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  text: string;
}

export async function startTestServer(
  config: Partial<{ maxBodyBytes: number; maxPageSize: number; defaultPageSize: number; bulkMaxOperations: number; maxJsonDepth: number }> &
    Pick<AppDependencies['config'], 'jwt' | 'oauth' | 'rateLimit' | 'authFailures' | 'trustProxy' | 'console' | 'hrColumnsFile'> &
    PolicyTestOptions & { connectors?: ConnectorSet; secrets?: SecretBox; db?: TestDatabase } = {},
): Promise<TestServer> {
  // A given database is the caller's (not dropped at close); otherwise a fresh one.
  const db = config.db ?? (await createTestDatabase());
  const token = 'test_' + randomBytes(24).toString('base64url');
  // Composed as `serve` composes it (src/compose/write-path.ts).
  const writePath = composeWritePath(db.knex, { policy: config.policy !== undefined, connectors: config.connectors, metrics: true });
  const policy = await startTestPolicy(writePath, config);
  const refusals = refusedCredentials(db.knex, config.authFailures);
  const app = createApp({
    db: db.knex,
    writePath,
    refusals,
    secrets: config.secrets,
    config: {
      bootstrapToken: token,
      publicUrl: undefined,
      maxBodyBytes: config.maxBodyBytes ?? 1_048_576,
      defaultPageSize: config.defaultPageSize ?? 100,
      maxPageSize: config.maxPageSize ?? 1000,
      bulkMaxOperations: config.bulkMaxOperations ?? 1000,
      maxJsonDepth: config.maxJsonDepth,
      jwt: config.jwt,
      oauth: config.oauth,
      rateLimit: config.rateLimit,
      authFailures: config.authFailures,
      trustProxy: config.trustProxy,
      console: config.console,
      hrColumnsFile: config.hrColumnsFile,
    },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  answerMalformedRequests(server);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const scimUrl = `${url}/scim/v2`;

  async function request(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token !== null) headers.authorization ??= `Bearer ${options.token ?? token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/scim+json';
    const response = await fetch(path.startsWith('http') ? path : `${path.startsWith('/scim') || path.startsWith('/healthz') || path.startsWith('/readyz') ? url : scimUrl}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  }

  return {
    url,
    scimUrl,
    token,
    db,
    writePath,
    refusals,
    request,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await refusals.journal.close();
      await policy.stop();
      if (!config.db) await db.drop();
    },
  };
}

/** Row counts and journal size: a failed request must leave all of these unchanged. */
export async function snapshotCounts(db: TestDatabase): Promise<Record<string, number>> {
  const { rows } = await db.knex.raw(`SELECT
    (SELECT count(*)::int FROM users) AS users,
    (SELECT count(*)::int FROM groups) AS groups,
    (SELECT count(*)::int FROM group_members) AS members,
    (SELECT count(*)::int FROM journal) AS journal,
    (SELECT coalesce(sum(version),0)::int FROM users) AS user_versions,
    (SELECT coalesce(sum(version),0)::int FROM groups) AS group_versions`);
  return rows[0];
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';

/** The smallest policy with a managed group: every active user is in All Staff. */
export const ALL_STAFF_POLICY = `version: 1
roles:
  - name: all-staff
    when: 'active eq true'
    groups: [All Staff]
`;
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const HR = 'urn:ietf:params:scim:schemas:extension:roster:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
