/**
 * Bearer tokens: 32 random bytes, shown once, stored only as a SHA-256 hash (the credential shape
 * shared with OAuth clients, credential-store.ts). A slow password hash is unnecessary here because
 * the token has 256 bits of entropy; SHA-256 keeps the per-request lookup cheap and index-backed.
 */
import type { Knex } from 'knex';
import { credentialRecord, CredentialNameTakenError, CredentialStore, hashSecret, newSecret, type CredentialRecord, type CredentialRow } from './credential-store.js';
import type { Scope } from './scopes.js';

export type TokenRecord = CredentialRecord;

export const TOKEN_PREFIX = 'rst_';

export function hashToken(token: string): string {
  return hashSecret(token);
}

export function generateToken(): string {
  return newSecret(TOKEN_PREFIX);
}

interface TokenRow extends CredentialRow {
  token_hash: string;
}

export class TokenNameTakenError extends CredentialNameTakenError {
  constructor(name: string) {
    super('token', name);
  }
}

const tokens = new CredentialStore<TokenRow, TokenRecord>({
  table: 'api_tokens',
  toRecord: credentialRecord,
  nameTaken: (name) => new TokenNameTakenError(name),
  // An operator names a token by its name, or by its id when the value can be one.
  revokeBy: { column: 'id', accepts: (value) => /^[0-9a-f-]{36}$/i.test(value) },
});

export async function createToken(db: Knex, name: string, scopes: Scope[]): Promise<{ token: string; record: TokenRecord }> {
  const token = generateToken();
  const record = await tokens.create(db, { name, token_hash: hashToken(token), scopes });
  return { token, record };
}

export async function listTokens(db: Knex, includeRevoked = false): Promise<TokenRecord[]> {
  return tokens.list(db, includeRevoked);
}

/** Revokes the active token with this name or id; returns false when there is none. */
export async function revokeToken(db: Knex, nameOrId: string): Promise<boolean> {
  return tokens.revoke(db, nameOrId);
}

export async function findActiveToken(db: Knex, token: string): Promise<TokenRecord | undefined> {
  const row = await tokens.findActiveRow(db, { token_hash: hashToken(token) });
  return row ? credentialRecord(row) : undefined;
}

export async function countActiveTokens(db: Knex): Promise<number> {
  return tokens.countActive(db);
}

export async function touchToken(db: Knex, id: string): Promise<void> {
  await tokens.touch(db, id);
}
