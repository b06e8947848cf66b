/**
 * The ops console's server-side state (docs/decisions/0501-console-sign-in-and-sessions.md).
 * - console_sessions: one row per signed-in browser. The cookie holds a random session id; the
 *   table keeps only its SHA-256 hash, so a copy of the database signs nobody in. The CSRF token,
 *   the person (issuer, subject, display name) and their console roles live here, not in the
 *   cookie. Idle and absolute limits are checked on every request against last_seen_at and
 *   created_at; expired rows are deleted as they are met and by the sweep in sessions.ts.
 * - console_sign_ins: an OpenID Connect sign-in in flight, keyed by its `state`: the PKCE code
 *   verifier and the nonce, kept on the server so that any Roster process can finish it. A row
 *   lives until the callback uses it, or 10 minutes.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE console_sessions (
      id_hash text PRIMARY KEY,
      csrf_token text NOT NULL,
      issuer text NOT NULL,
      subject text NOT NULL,
      display_name text NOT NULL,
      roles text[] NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);

    CREATE TABLE console_sign_ins (
      state text PRIMARY KEY,
      code_verifier text NOT NULL,
      nonce text NOT NULL,
      return_to text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE console_sign_ins; DROP TABLE console_sessions;`);
}
