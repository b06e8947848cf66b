/**
 * Keyed seals on journal entries (decision 0422). The hash chain's formula is public, so anyone
 * who can write the database can append an entry whose link verifies. A seal cannot be computed
 * without the journal key, which the database does not hold in usable form (ROSTER_JOURNAL_KEY from
 * the environment, or the stored key sealed under ROSTER_SECRETS_KEY):
 *   seal = "<key id>:<nonce>:" + HMAC-SHA256(key, "roster-journal-seal-v1\n" + nonce + "\n" + digest)
 * where digest is the entry body's digest (hash.ts) and nonce 16 random bytes, so a copy of a real
 * entry (replayed with its seal) shows as a repeated seal.
 *
 * The key is set once per process (`useJournalSealKey`, at start-up, like the log level) rather
 * than passed to every append: every writer in the process (SCIM, bulk, policy, import, sync, auth)
 * must seal, and forgetting one would make its entries look forged.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { JournalKey } from './key.js';

const SEAL_TAG = 'roster-journal-seal-v1';

let sealKey: JournalKey | undefined;

/** The key this process seals new entries with; undefined stops sealing (no key configured). */
export function useJournalSealKey(key: JournalKey | undefined): void {
  sealKey = key;
}

export function journalSealKeyId(): string | undefined {
  return sealKey?.id;
}

const mac = (key: JournalKey, nonce: string, digest: string) => createHmac('sha256', key.secret).update(`${SEAL_TAG}\n${nonce}\n${digest}`).digest('hex');

/** The seal for an entry with this body digest, or undefined when this process has no seal key. */
export function sealEntry(digest: string): string | undefined {
  if (!sealKey) return undefined;
  const nonce = randomBytes(16).toString('hex');
  return `${sealKey.id}:${nonce}:${mac(sealKey, nonce, digest)}`;
}

export const sealKeyIdOf = (seal: string): string | undefined => /^([0-9a-f]{16}):[0-9a-f]{32}:[0-9a-f]{64}$/.exec(seal)?.[1];

/** Whether the seal was made with `key` for an entry with this digest. */
export function sealValid(seal: string, digest: string, key: JournalKey): boolean {
  const [keyId, nonce, given] = seal.split(':');
  if (keyId !== key.id || !nonce || !given || !/^[0-9a-f]{64}$/.test(given)) return false;
  const expected = Buffer.from(mac(key, nonce, digest), 'hex');
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}
