/**
 * Roster's JWT signing keys, stored in PostgreSQL so that every process signs with the same key
 * and verifies tokens signed by any other process. The newest key signs; when it is older than
 * the rotation period, the next process that needs to sign creates a new one (under an advisory
 * lock, so concurrent processes create one key, not several). Older keys stay published, for
 * verification only, until every token they signed has expired; then they are deleted.
 * Private keys are imported as non-extractable CryptoKeys and never leave this module; they are
 * stored sealed under ROSTER_SECRETS_KEY when one is configured (decision 0421).
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Knex } from 'knex';
import type { SecretBox } from '../lib/secret-box.js';
import { openPrivateJwk, storedPrivateJwk } from '../secrets/stored-secrets.js';
import { logger } from '../logging/logger.js';
import { ROSTER_SIGNING_ALGORITHM } from './issuer.js';

interface KeyRow {
  kid: string;
  algorithm: string;
  public_jwk: JWK;
  /** The JWK, or (sealed at rest) a string. */
  private_jwk: JWK | string;
  created_at: Date;
}

interface LoadedKeys {
  signing: { kid: string; key: CryptoKey } | undefined;
  verifying: Map<string, CryptoKey>;
  published: JWK[];
  loadedAt: number;
}

export interface SigningKeySettings {
  keyRotationDays: number;
  tokenTtlSeconds: number;
}

const CACHE_MS = 60_000;
const LOCK = 'roster.oauth_signing_keys';

export class SigningKeyStore {
  private loaded: LoadedKeys | undefined;
  private loading: Promise<LoadedKeys> | undefined;

  constructor(
    private readonly db: Knex,
    private readonly settings: SigningKeySettings,
    /** Seals private keys at rest; undefined stores them in plain text (no ROSTER_SECRETS_KEY). */
    private readonly secrets?: SecretBox,
  ) {}

  /** Seconds a key stays published: it signs for the rotation period, its tokens live one TTL more, plus an hour of margin. */
  private get publishedForSeconds(): number {
    return this.settings.keyRotationDays * 86_400 + this.settings.tokenTtlSeconds + 3_600;
  }

  /** The key to sign with now, creating the first key or the next one when rotation is due. */
  async signingKey(): Promise<{ kid: string; key: CryptoKey }> {
    let keys = await this.keys();
    if (!keys.signing) {
      await this.createKeyIfDue();
      keys = await this.keys(true);
    }
    if (!keys.signing) throw new Error('No signing key could be created');
    return keys.signing;
  }

  /**
   * The public key for a kid, reloading from the database when the kid is new (another process
   * just rotated). Concurrent misses share one query; a made-up kid costs one indexed read, no
   * more than a made-up static token does.
   */
  async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
    if (!kid) return undefined;
    const known = (await this.keys()).verifying.get(kid);
    return known ?? (await this.keys(true)).verifying.get(kid);
  }

  /** The public JWK set for /.well-known/jwks.json. */
  async publishedKeys(): Promise<JWK[]> {
    return (await this.keys()).published;
  }

  /** Starts signing with a new key now (e.g. after a suspected leak); returns its kid. */
  async rotate(): Promise<string> {
    const kid = await this.db.transaction(async (tx) => {
      await tx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [LOCK]);
      return this.insertKey(tx);
    });
    this.loaded = undefined;
    return kid;
  }

  private async createKeyIfDue(): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [LOCK]);
      const fresh = await tx('oauth_signing_keys')
        .where('created_at', '>', tx.raw('now() - make_interval(days => ?)', [this.settings.keyRotationDays]))
        .first('kid');
      if (!fresh) await this.insertKey(tx);
    });
  }

  private async insertKey(tx: Knex.Transaction): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(ROSTER_SIGNING_ALGORITHM, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    await tx('oauth_signing_keys').insert({
      kid,
      algorithm: ROSTER_SIGNING_ALGORITHM,
      public_jwk: { ...publicJwk, kid, alg: ROSTER_SIGNING_ALGORITHM, use: 'sig' },
      private_jwk: storedPrivateJwk(this.secrets, kid, await exportJWK(privateKey)),
    });
    // Keys whose tokens have all expired are no longer needed by anyone.
    await tx('oauth_signing_keys')
      .where('created_at', '<', tx.raw('now() - make_interval(secs => ?)', [this.publishedForSeconds]))
      .delete();
    return kid;
  }

  private async keys(force = false): Promise<LoadedKeys> {
    if (!force && this.loaded && Date.now() - this.loaded.loadedAt < CACHE_MS) return this.loaded;
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    this.loaded = await this.loading;
    return this.loaded;
  }

  private async load(): Promise<LoadedKeys> {
    const rows: KeyRow[] = await this.db('oauth_signing_keys')
      .where('created_at', '>', this.db.raw('now() - make_interval(secs => ?)', [this.publishedForSeconds]))
      .orderBy('created_at', 'desc')
      .select('kid', 'algorithm', 'public_jwk', 'private_jwk', 'created_at');
    const trusted = this.secrets ? this.sealedOnly(rows) : rows.map((row) => ({ row, publicJwk: row.public_jwk }));
    const verifying = new Map<string, CryptoKey>();
    for (const { row, publicJwk } of trusted) verifying.set(row.kid, (await importJWK(publicJwk, row.algorithm)) as CryptoKey);
    const newest = trusted[0]?.row;
    const rotationDue = !newest || Date.now() - newest.created_at.getTime() > this.settings.keyRotationDays * 86_400_000;
    const signing = newest && !rotationDue
      ? { kid: newest.kid, key: (await importJWK(openPrivateJwk(this.secrets, newest.kid, newest.private_jwk), newest.algorithm, { extractable: false })) as CryptoKey }
      : undefined;
    return { signing, verifying, published: trusted.map(({ publicJwk }) => publicJwk), loadedAt: Date.now() };
  }

  /**
   * With sealed keys, only rows whose private key opens are keys Roster made; their public key is
   * taken from the sealed private key, not from `public_jwk`, which anyone who can write the
   * database could have set to a key of their own (to have Roster accept their tokens).
   */
  private sealedOnly(rows: KeyRow[]): Array<{ row: KeyRow; publicJwk: JWK }> {
    const trusted: Array<{ row: KeyRow; publicJwk: JWK }> = [];
    for (const row of rows) {
      try {
        const { d: _private, ...publicPart } = openPrivateJwk(this.secrets, row.kid, row.private_jwk);
        trusted.push({ row, publicJwk: { ...publicPart, kid: row.kid, alg: row.algorithm, use: 'sig' } });
      } catch (error) {
        logger.warn('an OAuth signing key is not used: it does not open with ROSTER_SECRETS_KEY', { kid: row.kid, error: (error as Error).message });
      }
    }
    return trusted;
  }
}
