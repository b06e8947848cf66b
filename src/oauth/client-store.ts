/**
 * OAuth clients (identity providers that use the client-credentials grant). The secret is 32
 * random bytes, shown once and stored only as a SHA-256 hash: with 256 bits of entropy a slow
 * password hash adds nothing, and the check stays cheap (the credential shape shared with
 * api_tokens, auth/credential-store.ts).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { credentialRecord, CredentialNameTakenError, CredentialStore, hashSecret, newSecret, type CredentialRecord, type CredentialRow } from '../auth/credential-store.js';
import type { Scope } from '../auth/scopes.js';

export type ClientRecord = CredentialRecord & { clientId: string };

interface ClientRow extends CredentialRow {
  client_id: string;
  secret_hash: string;
}

const toRecord = (row: ClientRow): ClientRecord => {
  const { id, ...rest } = credentialRecord(row);
  return { id, clientId: row.client_id, ...rest };
};

export class ClientNameTakenError extends CredentialNameTakenError {
  constructor(name: string) {
    super('client', name);
  }
}

const clients = new CredentialStore<ClientRow, ClientRecord>({
  table: 'oauth_clients',
  toRecord,
  nameTaken: (name) => new ClientNameTakenError(name),
  revokeBy: { column: 'client_id' },
});

export async function createClient(db: Knex, name: string, scopes: Scope[]): Promise<{ secret: string; record: ClientRecord }> {
  const clientId = 'rcl_' + randomBytes(12).toString('hex'); // hex: easy to read and paste into IdP forms
  const secret = newSecret('rcs_');
  const record = await clients.create(db, { client_id: clientId, name, secret_hash: hashSecret(secret), scopes });
  return { secret, record };
}

export async function listClients(db: Knex, includeRevoked = false): Promise<ClientRecord[]> {
  return clients.list(db, includeRevoked);
}

/** Revokes the active client with this name or client id; returns false when there is none. */
export async function revokeClient(db: Knex, nameOrClientId: string): Promise<boolean> {
  return clients.revoke(db, nameOrClientId);
}

export async function findActiveClient(db: Knex, clientId: string): Promise<ClientRecord | undefined> {
  const row = await clients.findActiveRow(db, { client_id: clientId });
  return row ? toRecord(row) : undefined;
}

/** The active client when the secret matches, compared in constant time. */
export async function authenticateClient(db: Knex, clientId: string, secret: string): Promise<ClientRecord | undefined> {
  const row = await clients.findActiveRow(db, { client_id: clientId });
  if (!row) return undefined;
  const matches = timingSafeEqual(Buffer.from(hashSecret(secret), 'hex'), Buffer.from(row.secret_hash, 'hex'));
  return matches ? toRecord(row) : undefined;
}

export async function touchClient(db: Knex, id: string): Promise<void> {
  await clients.touch(db, id);
}
