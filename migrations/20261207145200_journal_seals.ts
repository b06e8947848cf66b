/**
 * A keyed seal per journal entry (decision 0422): `seal` = key id, a random nonce and
 * HMAC-SHA256(journal key, nonce, entry digest), computed in Node with a key the database does not
 * hold (ROSTER_JOURNAL_KEY, or the stored key sealed under ROSTER_SECRETS_KEY). Someone with write
 * access to the database can still compute a valid hash link with Roster's own (public) formula,
 * but not a seal, so `journal verify` tells an entry Roster wrote from one appended by hand.
 * The seal is not part of the hash chain (the chain formula stays format 2); it travels with the
 * entry through journal_pending, so `journal_link` now copies it. NULL for entries written before
 * or without a key.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE journal ADD COLUMN seal text;

    -- As in 20261202000100_journal_link_large_appends, plus the seal column.
    -- Must stay the same formula as chainLink() in src/journal/hash.ts.
    CREATE OR REPLACE FUNCTION journal_link(entries jsonb, digests text[]) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      head_seq bigint;
      head_hash text;
      entry_at timestamptz;
      at_millis bigint;
      previous text[] := ARRAY[]::text[];
      hashes text[] := ARRAY[]::text[];
      link text;
      n integer := cardinality(digests);
    BEGIN
      IF jsonb_array_length(entries) <> n THEN
        RAISE EXCEPTION 'journal_link: % entries but % digests', jsonb_array_length(entries), n;
      END IF;
      SELECT seq, hash INTO head_seq, head_hash FROM journal_chain WHERE singleton FOR UPDATE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'The journal chain head is missing: run "npm run roster -- migrate"';
      END IF;
      -- Read under the lock, so entry times follow chain order across processes.
      entry_at := date_trunc('milliseconds', clock_timestamp());
      at_millis := round(extract(epoch FROM entry_at) * 1000)::bigint;
      link := head_hash;
      FOR i IN 1 .. n LOOP
        previous[i] := link;
        link := encode(sha256(convert_to(
          'roster-journal-v2' || E'\\n' || link || E'\\n' || (head_seq + i) || E'\\n' || at_millis || E'\\n' || digests[i], 'UTF8')), 'hex');
        hashes[i] := link;
      END LOOP;
      INSERT INTO journal (seq, prev_hash, hash, chain_version, at, actor, source, request_id, action,
                           resource_type, resource_id, resource_name, member_ids, before, after, changes, reason, seal)
      SELECT head_seq + e.ordinality, previous[e.ordinality], hashes[e.ordinality], 2, entry_at, e.actor, e.source,
             e.request_id, e.action, e.resource_type, e.resource_id, e.resource_name, e.member_ids,
             e.before, e.after, e.changes, e.reason, e.seal
      FROM ROWS FROM (jsonb_populate_recordset(NULL::journal, entries)) WITH ORDINALITY AS e
      ORDER BY e.ordinality;
      UPDATE journal_chain SET seq = head_seq + n, hash = link WHERE singleton;
    END $$;
  `);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
