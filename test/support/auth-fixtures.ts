/**
 * Fixtures for OAuth/JWT, metrics and rate-limit tests: an external authorization server's key
 * set served by a real HTTP server on loopback, signing helpers, and a second Roster app on the
 * same database (what a second process behind a load balancer sees).
 */
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { Knex } from 'knex';
import { createApp, type AppDependencies } from '../../src/compose/app.js';
import { WritePath } from '../../src/write/write-path.js';

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(alg: string, kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export async function signJwt(key: TestKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

export interface JwksServer {
  url: string;
  keys: JWK[];
  fetches: number;
  close(): Promise<void>;
}

export async function startJwksServer(initial: TestKey[]): Promise<JwksServer> {
  const state: JwksServer = { url: '', keys: initial.map((k) => k.publicJwk), fetches: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    state.fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  state.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/jwks`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

export interface SiblingApp {
  url: string;
  close(): Promise<void>;
}

/** Another Roster app on the same database and bootstrap token: a second process, in effect. */
export async function startSiblingApp(db: Knex, bootstrapToken: string, extra: Pick<AppDependencies['config'], 'jwt' | 'oauth' | 'rateLimit'> = {}): Promise<SiblingApp> {
  const app = createApp({
    db,
    writePath: new WritePath(db),
    config: { bootstrapToken, publicUrl: undefined, maxBodyBytes: 1_048_576, defaultPageSize: 100, maxPageSize: 1000, bulkMaxOperations: 1000, ...extra },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Journal entries written under source `auth`, oldest first. */
export async function authJournal(db: Knex): Promise<Array<{ actor: string; action: string; request_id: string; reason: Record<string, unknown> }>> {
  return (await db.raw(`SELECT actor, action, request_id, reason FROM journal WHERE source = 'auth' ORDER BY id`)).rows;
}
