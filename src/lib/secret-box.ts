/**
 * Secrets Roster stores (its OAuth signing private keys, the generated journal checkpoint key) are
 * sealed with AES-256-GCM under ROSTER_SECRETS_KEY before they reach the database, so reading the
 * database, or a backup of it, no longer gives anyone a key to mint access tokens with. Each sealed
 * value names the key that sealed it (by id, never the key) and is bound to where it is stored
 * (the additional authenticated data, e.g. "oauth_signing_keys:<kid>"), so a sealed value moved
 * to another row does not open. Older keys (ROSTER_SECRETS_KEY_PREVIOUS) still open what they
 * sealed, and the start-up re-seals it under the current key (stored-secrets.ts). Why:
 * docs/decisions/0421-secrets-at-rest.md.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export const SEALED_PREFIX = 'roster-sealed:v1:';

/** A key given as 64 hex digits or as base64/base64url of 32 bytes; undefined when it is neither. */
export function parseSecretsKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    return bytes.length === 32 ? bytes : undefined;
  }
  return undefined;
}

/** Names a key in a sealed value without revealing anything about it. */
export const secretsKeyId = (key: Buffer) => createHash('sha256').update('roster-secrets-key-id\0').update(key).digest('hex').slice(0, 16);

export class SecretOpenError extends Error {
  override name = 'SecretOpenError';
}

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  /** `current` seals and opens; `previous` keys only open (rotation). */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    this.currentKeyId = secretsKeyId(current);
    this.keys.set(this.currentKeyId, current);
    for (const key of previous) if (!this.keys.has(secretsKeyId(key))) this.keys.set(secretsKeyId(key), key);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${SEALED_PREFIX}${this.currentKeyId}:${iv.toString('base64url')}:${ciphertext.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}`;
  }

  open(sealed: string, context: string): string {
    const keyId = sealedKeyId(sealed);
    const [iv, ciphertext, tag] = sealed.slice(SEALED_PREFIX.length + 17).split(':');
    const key = keyId ? this.keys.get(keyId) : undefined;
    if (!key) throw new SecretOpenError(`sealed with key ${keyId ?? '(unreadable)'}, which is neither ROSTER_SECRETS_KEY nor in ROSTER_SECRETS_KEY_PREVIOUS`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv ?? '', 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag ?? '', 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext ?? '', 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretOpenError(`does not open with key ${keyId}: it was altered or moved from another row`);
    }
  }

  /** True when the value was sealed with a key other than the current one (or is not sealed). */
  needsResealing(value: string): boolean {
    return sealedKeyId(value) !== this.currentKeyId;
  }
}

export const isSealed = (value: unknown): value is string => typeof value === 'string' && value.startsWith(SEALED_PREFIX);

/** The id of the key a sealed value names, or undefined for a value that is not sealed. */
export function sealedKeyId(value: string): string | undefined {
  if (!isSealed(value)) return undefined;
  const id = value.slice(SEALED_PREFIX.length, SEALED_PREFIX.length + 16);
  return /^[0-9a-f]{16}$/.test(id) ? id : undefined;
}
