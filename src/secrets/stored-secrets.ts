/**
 * Where Roster stores secrets, in one place: how each is sealed and opened, which key ids the
 * database holds sealed values under, and re-sealing under the current key (the start-up does it,
 * which is how a key rotation and the first start with a key both complete). Without a SecretBox
 * (no key configured, DATABASE_URL set, nothing sealed yet) values are stored as before, in plain
 * text; the start-up warns about that (startup.ts).
 *
 * With a SecretBox only sealed values are trusted: a plain one next to sealed ones was written by
 * someone without the key (a row inserted in SQL to make Roster sign with, or accept, a key of
 * theirs), so it is refused, never adopted. Plain values are sealed only by the first start with a
 * key, while nothing is sealed yet (an existing deployment turning sealing on).
 */
import type { Knex } from 'knex';
import { isSealed, SecretOpenError, SEALED_PREFIX, type SecretBox } from '../lib/secret-box.js';

/** A sealed value was found but no key was given to open it. */
export class SecretsKeyMissing extends SecretOpenError {}

function open(box: SecretBox | undefined, value: string, context: string): string {
  if (!box) throw new SecretsKeyMissing(`${context} is encrypted at rest, and ROSTER_SECRETS_KEY is not set`);
  return box.open(value, context);
}

/** A plain value where a sealed one is required. */
export class UntrustedPlainSecret extends SecretOpenError {}

function refusePlain(box: SecretBox | undefined, context: string): void {
  if (box) throw new UntrustedPlainSecret(`${context} is stored in plain text although secrets are sealed: it was not written by Roster, so it is not used`);
}

const signingKeyContext = (kid: string) => `oauth_signing_keys:${kid}`;
const journalKeyContext = (keyId: string) => `journal_keys:${keyId}`;

/** What to store in oauth_signing_keys.private_jwk (jsonb): the JWK, or the sealed string as JSON text (a jsonb string). */
export function storedPrivateJwk(box: SecretBox | undefined, kid: string, jwk: object): object | string {
  return box ? JSON.stringify(box.seal(JSON.stringify(jwk), signingKeyContext(kid))) : jwk;
}

export function openPrivateJwk<T extends object>(box: SecretBox | undefined, kid: string, stored: T | string): T {
  if (isSealed(stored)) return JSON.parse(open(box, stored, signingKeyContext(kid))) as T;
  refusePlain(box, signingKeyContext(kid));
  return stored as T;
}

/** What to store in journal_keys.secret (text). */
export const storedJournalSecret = (box: SecretBox | undefined, keyId: string, secret: string): string =>
  box ? box.seal(secret, journalKeyContext(keyId)) : secret;

export function openJournalSecret(box: SecretBox | undefined, keyId: string, stored: string): string {
  if (isSealed(stored)) return open(box, stored, journalKeyContext(keyId));
  refusePlain(box, journalKeyContext(keyId));
  return stored;
}

/** The ids of the keys the database's sealed secrets were sealed with. */
export async function sealedKeyIds(db: Knex): Promise<string[]> {
  const { rows } = (await db.raw(
    `SELECT DISTINCT substr(v, ?, 16) AS key_id FROM (
       SELECT private_jwk #>> '{}' AS v FROM oauth_signing_keys WHERE jsonb_typeof(private_jwk) = 'string'
       UNION ALL SELECT secret FROM journal_keys
     ) s WHERE v LIKE ? ORDER BY 1`,
    [SEALED_PREFIX.length + 1, `${SEALED_PREFIX}%`],
  )) as { rows: Array<{ key_id: string }> };
  return rows.map((row) => row.key_id);
}

/** How many stored secrets are in plain text. */
export async function plaintextSecretCount(db: Knex): Promise<number> {
  const { rows } = (await db.raw(
    `SELECT (SELECT count(*) FROM oauth_signing_keys WHERE jsonb_typeof(private_jwk) <> 'string')
          + (SELECT count(*) FROM journal_keys WHERE secret NOT LIKE ?) AS n`,
    [`${SEALED_PREFIX}%`],
  )) as { rows: Array<{ n: string }> };
  return Number(rows[0]?.n ?? 0);
}

/**
 * Seals under the current key every stored secret sealed with a previous key and, when nothing is
 * sealed yet, every plain one; in one transaction (rows locked, so two starting processes do it
 * once). Returns how many were sealed, and how many plain values were left untrusted.
 */
export async function resealStoredSecrets(db: Knex, box: SecretBox): Promise<{ sealed: number; untrusted: number }> {
  return db.transaction(async (tx) => {
    await tx.raw(`LOCK TABLE oauth_signing_keys, journal_keys IN SHARE ROW EXCLUSIVE MODE`);
    const adoptPlain = (await sealedKeyIds(tx)).length === 0;
    let count = 0;
    let untrusted = 0;
    const keys = (await tx.raw(`SELECT kid, private_jwk FROM oauth_signing_keys ORDER BY kid`)) as { rows: Array<{ kid: string; private_jwk: object | string }> };
    for (const row of keys.rows) {
      if (typeof row.private_jwk === 'string' && !box.needsResealing(row.private_jwk)) continue;
      if (typeof row.private_jwk !== 'string' && !adoptPlain) {
        untrusted++;
        continue;
      }
      const jwk = typeof row.private_jwk === 'string' ? openPrivateJwk(box, row.kid, row.private_jwk) : row.private_jwk;
      await tx.raw(`UPDATE oauth_signing_keys SET private_jwk = ?::jsonb WHERE kid = ?`, [JSON.stringify(box.seal(JSON.stringify(jwk), signingKeyContext(row.kid))), row.kid]);
      count++;
    }
    const journalKeys = (await tx.raw(`SELECT key_id, secret FROM journal_keys ORDER BY key_id`)) as { rows: Array<{ key_id: string; secret: string }> };
    for (const row of journalKeys.rows) {
      if (!box.needsResealing(row.secret)) continue;
      if (!isSealed(row.secret) && !adoptPlain) {
        untrusted++;
        continue;
      }
      const secret = isSealed(row.secret) ? openJournalSecret(box, row.key_id, row.secret) : row.secret;
      await tx.raw(`UPDATE journal_keys SET secret = ? WHERE key_id = ?`, [storedJournalSecret(box, row.key_id, secret), row.key_id]);
      count++;
    }
    return { sealed: count, untrusted };
  });
}

