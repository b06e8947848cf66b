/**
 * Bearer tokens: 32 random bytes, shown once, stored only as a SHA-256 hash. A slow password hash
 * is unnecessary here because the token has 256 bits of entropy; SHA-256 keeps the per-request
 * lookup cheap and index-backed.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Scope } from './scopes.js';

export interface TokenRecord {
  id: string;
  name: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export const TOKEN_PREFIX = 'rst_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

interface TokenRow {
  id: string;
  name: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const toRecord = (row: TokenRow): TokenRecord => ({
  id: row.id,
  name: row.name,
  scopes: row.scopes,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
});

export class TokenNameTakenError extends Error {}

export async function createToken(db: Knex, name: string, scopes: Scope[]): Promise<{ token: string; record: TokenRecord }> {
  const token = generateToken();
  try {
    const [row] = await db('api_tokens')
      .insert({ id: randomUUID(), name, token_hash: hashToken(token), scopes })
      .returning('*');
    return { token, record: toRecord(row as TokenRow) };
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      throw new TokenNameTakenError(`A token named "${name}" already exists; revoke it first or choose another name`);
    }
    throw error;
  }
}

export async function listTokens(db: Knex, includeRevoked = false): Promise<TokenRecord[]> {
  const query = db<TokenRow>('api_tokens').select('*').orderBy('created_at');
  if (!includeRevoked) query.whereNull('revoked_at');
  return (await query).map(toRecord);
}

/** Revokes the active token with this name or id; returns false when there is none. */
export async function revokeToken(db: Knex, nameOrId: string): Promise<boolean> {
  const isUuid = /^[0-9a-f-]{36}$/i.test(nameOrId);
  const updated = await db('api_tokens')
    .whereNull('revoked_at')
    .andWhere((q) => {
      q.where('name', nameOrId);
      if (isUuid) q.orWhere('id', nameOrId);
    })
    .update({ revoked_at: db.fn.now() });
  return updated > 0;
}

export async function findActiveToken(db: Knex, token: string): Promise<TokenRecord | undefined> {
  const row = (await db('api_tokens').where({ token_hash: hashToken(token) }).whereNull('revoked_at').first()) as
    | TokenRow
    | undefined;
  return row ? toRecord(row) : undefined;
}

export async function countActiveTokens(db: Knex): Promise<number> {
  const [row] = await db('api_tokens').whereNull('revoked_at').count<{ count: string }[]>('* as count');
  return Number(row?.count ?? 0);
}

export async function touchToken(db: Knex, id: string): Promise<void> {
  await db('api_tokens').where({ id }).update({ last_used_at: db.fn.now() });
}
