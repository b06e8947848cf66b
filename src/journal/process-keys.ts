/**
 * The journal keys a process works with, decided at start-up (serve and CLI commands):
 * - the key that signs published heads and purge checkpoints: ROSTER_JOURNAL_KEY, else the stored
 *   key (0301; sealed at rest under ROSTER_SECRETS_KEY when there is one, 0421);
 * - the key that seals every new entry (seal.ts): the same key, but only when the database alone
 *   does not give it away, i.e. ROSTER_JOURNAL_KEY is set or the stored key is sealed. A stored
 *   key in plain text would let anyone who reads the database compute seals, so there is none.
 */
import type { Knex } from 'knex';
import type { SecretBox } from '../lib/secret-box.js';
import { signingKey, type JournalKey } from './key.js';
import { useJournalSealKey } from './seal.js';

export async function startJournalKeys(db: Knex, keySecret: string | undefined, secrets: SecretBox | undefined): Promise<JournalKey> {
  const key = await signingKey(db, keySecret, secrets);
  useJournalSealKey(keySecret || secrets ? key : undefined);
  return key;
}
