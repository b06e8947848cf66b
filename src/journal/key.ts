/**
 * The HMAC key that signs purge checkpoints. ROSTER_JOURNAL_KEY, when set, is the key and never
 * touches the database, so someone who can write the database still cannot forge a checkpoint.
 * Without it a random key is generated on first use and kept in `journal_keys`: zero
 * configuration, but it only protects against mistakes, not against a database administrator
 * (unless it is sealed under ROSTER_SECRETS_KEY, decision 0421: then reading the database is not enough).
 * Trade-off: docs/decisions/0301-journal-checkpoint-key.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { SEALED_PREFIX, type SecretBox } from '../lib/secret-box.js';
import { openJournalSecret, storedJournalSecret } from '../secrets/stored-secrets.js';

export interface JournalKey {
  /** First 16 hex digits of SHA-256 of the secret: names the key in a checkpoint without revealing it. */
  id: string;
  secret: string;
  source: 'ROSTER_JOURNAL_KEY' | 'database';
}

export const keyIdOf = (secret: string) => createHash('sha256').update(secret).digest('hex').slice(0, 16);

/** The key new checkpoints are signed with (creating the stored key when there is no env key). */
export async function signingKey(db: Knex, envSecret: string | undefined, secrets?: SecretBox): Promise<JournalKey> {
  if (envSecret) return { id: keyIdOf(envSecret), secret: envSecret, source: 'ROSTER_JOURNAL_KEY' };
  const existing = await storedKey(db, secrets);
  if (existing) return existing;
  const secret = randomBytes(32).toString('hex');
  const keyId = keyIdOf(secret);
  await db.raw(`INSERT INTO journal_keys (key_id, secret) VALUES (?, ?) ON CONFLICT DO NOTHING`, [keyId, storedJournalSecret(secrets, keyId, secret)]);
  // Two processes may race to create it: whichever row exists is the key.
  const created = await storedKey(db, secrets);
  if (!created) throw new Error('Could not create the journal checkpoint key');
  return created;
}

/** The key with this id, if this process has it (env key, or the stored one). */
export async function keyById(db: Knex, keyId: string, envSecret: string | undefined, secrets?: SecretBox): Promise<JournalKey | undefined> {
  if (envSecret && keyIdOf(envSecret) === keyId) return { id: keyId, secret: envSecret, source: 'ROSTER_JOURNAL_KEY' };
  const { rows } = (await db.raw(`SELECT key_id, secret FROM journal_keys WHERE key_id = ?`, [keyId])) as { rows: Array<{ key_id: string; secret: string }> };
  const row = rows[0];
  return row ? { id: row.key_id, secret: openJournalSecret(secrets, row.key_id, row.secret), source: 'database' } : undefined;
}

async function storedKey(db: Knex, secrets: SecretBox | undefined): Promise<JournalKey | undefined> {
  // With sealed secrets, a plain row was not written by Roster (stored-secrets.ts): never chosen.
  const trusted = secrets ? `WHERE secret LIKE '${SEALED_PREFIX}%'` : '';
  const { rows } = (await db.raw(`SELECT key_id, secret FROM journal_keys ${trusted} ORDER BY created_at, key_id LIMIT 1`)) as { rows: Array<{ key_id: string; secret: string }> };
  const row = rows[0];
  return row ? { id: row.key_id, secret: openJournalSecret(secrets, row.key_id, row.secret), source: 'database' } : undefined;
}
