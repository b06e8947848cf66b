/**
 * Which key seals Roster's stored secrets, decided once at start-up (serve and every CLI command
 * that opens the database), with an operator-facing error when it cannot be right:
 * - ROSTER_SECRETS_KEY (and ROSTER_SECRETS_KEY_PREVIOUS while rotating) when set;
 * - on the embedded quick start (no DATABASE_URL), a key generated once into the data folder
 *   (`secrets.key`, mode 0600), announced on the terminal, so `npm ci && npm start` just works;
 * - with DATABASE_URL and no key: an error if the database holds sealed secrets (they cannot be
 *   opened), otherwise plain-text storage as before, with a warning.
 * A key that opens none of the sealed secrets is an error too. Then everything not sealed under
 * the current key is re-sealed (stored-secrets.ts).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { OperatorError } from '../lib/operator-error.js';
import { logger } from '../logging/logger.js';
import { parseSecretsKey, SecretBox, secretsKeyId } from '../lib/secret-box.js';
import { plaintextSecretCount, resealStoredSecrets, sealedKeyIds } from './stored-secrets.js';

/** The secrets key is missing or wrong: an operator mistake (exit 2, message only). */
export class SecretsKeyError extends OperatorError {
  override name = 'SecretsKeyError';
}

export interface SecretsSettings {
  key: Buffer | undefined;
  previousKeys: Buffer[];
}

export const SECRETS_KEY_FILE = 'secrets.key';

/** The embedded quick start's key: read from the data folder, or generated there on first use. */
export async function dataFolderKey(dataDir: string): Promise<{ key: Buffer; file: string; generated: boolean }> {
  const file = path.join(dataDir, SECRETS_KEY_FILE);
  const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined) {
    const key = parseSecretsKey(existing);
    if (!key) throw new SecretsKeyError(`${file} does not hold a secrets key (64 hex digits). Restore it from a backup, or set ROSTER_SECRETS_KEY to the key in use.`);
    return { key, file, generated: false };
  }
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32);
  await writeFile(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { key, file, generated: true };
}

export async function openSecrets(
  db: Knex,
  settings: SecretsSettings,
  database: { embedded: boolean; dataDir: string },
  say: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  /** Warn when secrets are stored in plain text (serve); CLI commands stay quiet about it. */
  warnUnencrypted = true,
): Promise<SecretBox | undefined> {
  let key = settings.key;
  if (!key && database.embedded) {
    const folder = await dataFolderKey(database.dataDir);
    key = folder.key;
    if (folder.generated) say(`Generated a key for secrets at rest in ${folder.file} (keep it with the data folder; set ROSTER_SECRETS_KEY to use your own).`);
  }
  const sealed = await sealedKeyIds(db);
  if (!key) {
    if (sealed.length > 0) {
      throw new SecretsKeyError(
        `ROSTER_SECRETS_KEY is not set, but the database holds secrets encrypted at rest (sealed with key ${sealed.join(', ')}). ` +
          'Set ROSTER_SECRETS_KEY to the key Roster used for this database (64 hex digits or base64 of 32 bytes). See docs/security.md, "Secrets at rest".',
      );
    }
    if (warnUnencrypted) logger.warn('ROSTER_SECRETS_KEY is not set: OAuth signing keys and the journal checkpoint key are stored unencrypted (set it: openssl rand -hex 32)', {
      plaintextSecrets: await plaintextSecretCount(db),
    });
    return undefined;
  }
  const box = new SecretBox(key, settings.previousKeys);
  const known = new Set([secretsKeyId(key), ...settings.previousKeys.map(secretsKeyId)]);
  const unknown = sealed.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new SecretsKeyError(
      `ROSTER_SECRETS_KEY (key ${box.currentKeyId}) does not open the stored secrets, which are sealed with key ${unknown.join(', ')}. ` +
        'Set ROSTER_SECRETS_KEY to that key; to rotate, set the new key in ROSTER_SECRETS_KEY and the old one in ROSTER_SECRETS_KEY_PREVIOUS. See docs/security.md, "Secrets at rest".',
    );
  }
  const resealed = await resealStoredSecrets(db, box).catch((error: unknown) => {
    throw new SecretsKeyError(`A stored secret could not be opened with ROSTER_SECRETS_KEY or ROSTER_SECRETS_KEY_PREVIOUS: ${(error as Error).message}. See docs/security.md, "Secrets at rest".`);
  });
  if (resealed.sealed > 0) logger.info('stored secrets sealed under the current ROSTER_SECRETS_KEY', { count: resealed.sealed, keyId: box.currentKeyId });
  if (resealed.untrusted > 0) {
    logger.warn('stored secrets in plain text next to sealed ones are not used: they were not written by Roster (inserted in SQL?)', { count: resealed.untrusted });
  }
  return box;
}
