/**
 * OAuth 2.0 client credentials and per-token rate limits.
 * - oauth_clients: identity providers configured with a client id and secret; the secret is kept
 *   only as a SHA-256 hash (it has 256 bits of entropy, like api_tokens).
 * - oauth_signing_keys: Roster's own JWT signing keys. A new key is made when the newest one is
 *   older than the rotation period; old keys stay published until the tokens they signed expire.
 * - rate_limit_buckets: one token bucket per credential, shared by every Roster process. UNLOGGED
 *   because a crash may lose it without harm (buckets start full again) and it is written on
 *   every request, so skipping the WAL matters.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE oauth_clients (
      id uuid PRIMARY KEY,
      client_id text NOT NULL UNIQUE,
      name text NOT NULL,
      secret_hash text NOT NULL,
      scopes text[] NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE UNIQUE INDEX oauth_clients_active_name ON oauth_clients (name) WHERE revoked_at IS NULL;

    CREATE TABLE oauth_signing_keys (
      kid text PRIMARY KEY,
      algorithm text NOT NULL,
      public_jwk jsonb NOT NULL,
      private_jwk jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX oauth_signing_keys_created ON oauth_signing_keys (created_at DESC);

    CREATE UNLOGGED TABLE rate_limit_buckets (
      key text PRIMARY KEY,
      tokens double precision NOT NULL,
      allowed boolean NOT NULL,
      updated_at timestamptz NOT NULL
    );
  `);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
