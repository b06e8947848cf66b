/**
 * OAuth clients (identity providers that use the client-credentials grant). The secret is 32
 * random bytes, shown once and stored only as a SHA-256 hash: with 256 bits of entropy a slow
 * password hash adds nothing, and the check stays cheap (the same reasoning as api_tokens).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type { Scope } from '../auth/scopes.js';

export interface ClientRecord {
  id: string;
  clientId: string;
  name: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface ClientRow {
  id: string;
  client_id: string;
  name: string;
  secret_hash: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const toRecord = (row: ClientRow): ClientRecord => ({
  id: row.id,
  clientId: row.client_id,
  name: row.name,
  scopes: row.scopes,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
});

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest();

export class ClientNameTakenError extends Error {}

export async function createClient(db: Knex, name: string, scopes: Scope[]): Promise<{ secret: string; record: ClientRecord }> {
  const clientId = 'rcl_' + randomBytes(12).toString('hex'); // hex: easy to read and paste into IdP forms
  const secret = 'rcs_' + randomBytes(32).toString('base64url');
  try {
    const [row] = await db('oauth_clients')
      .insert({ id: randomUUID(), client_id: clientId, name, secret_hash: hashSecret(secret).toString('hex'), scopes })
      .returning('*');
    return { secret, record: toRecord(row as ClientRow) };
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      throw new ClientNameTakenError(`A client named "${name}" already exists; revoke it first or choose another name`);
    }
    throw error;
  }
}

export async function listClients(db: Knex, includeRevoked = false): Promise<ClientRecord[]> {
  const query = db<ClientRow>('oauth_clients').select('*').orderBy('created_at');
  if (!includeRevoked) query.whereNull('revoked_at');
  return (await query).map(toRecord);
}

/** Revokes the active client with this name or client id; returns false when there is none. */
export async function revokeClient(db: Knex, nameOrClientId: string): Promise<boolean> {
  const updated = await db('oauth_clients')
    .whereNull('revoked_at')
    .andWhere((q) => q.where('name', nameOrClientId).orWhere('client_id', nameOrClientId))
    .update({ revoked_at: db.fn.now() });
  return updated > 0;
}

export async function findActiveClient(db: Knex, clientId: string): Promise<ClientRecord | undefined> {
  const row = (await db('oauth_clients').where({ client_id: clientId }).whereNull('revoked_at').first()) as ClientRow | undefined;
  return row ? toRecord(row) : undefined;
}

/** The active client when the secret matches, compared in constant time. */
export async function authenticateClient(db: Knex, clientId: string, secret: string): Promise<ClientRecord | undefined> {
  const row = (await db('oauth_clients').where({ client_id: clientId }).whereNull('revoked_at').first()) as ClientRow | undefined;
  if (!row) return undefined;
  const matches = timingSafeEqual(hashSecret(secret), Buffer.from(row.secret_hash, 'hex'));
  return matches ? toRecord(row) : undefined;
}

export async function touchClient(db: Knex, id: string): Promise<void> {
  await db('oauth_clients').where({ id }).update({ last_used_at: db.fn.now() });
}
