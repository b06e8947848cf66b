/**
 * Large journal appends are linked into the chain as they arrive, not at commit (decision 0303,
 * "Large appends are linked at once").
 *
 * 20261122000900 links every append at COMMIT, in a deferred trigger. For a batch (an HR import's
 * 250 users, about 1,100 entries) that means PostgreSQL parses and inserts all of the batch's
 * entries during COMMIT while Node sits idle. Now:
 * - `journal_link(entries, digests)` links entries at once (locks the head until commit, then
 *   positions, time and hashes: format 2, as before);
 * - `journal_link_pending()` links this transaction's pending rows, oldest first (found by a new
 *   indexed `xact` column, not by a scan past other transactions' dead rows);
 * - the deferred trigger links its own row, as before, unless a large append already has;
 * - `journal_append_now(entries, digests)`, for large appends, first links whatever the
 *   transaction left pending, so append order is kept, then links its own entries.
 *
 * Entries are read as jsonb: parsed once, where json_populate_recordset parsed each nested document
 * (before, after, changes, reason) a second time to store it as jsonb (measured on 8,899 entries
 * of an HR import: 117–124 ms instead of 160–166 ms).
 *
 * Forward-only: the functions are replaced and journal_pending gains `xact`. The CHECK that
 * compared entry and digest counts is dropped because `journal_link` checks the same thing without
 * parsing the JSON a second time.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE journal_pending DROP CONSTRAINT IF EXISTS journal_pending_check;

    -- Must stay the same formula as chainLink() in src/journal/hash.ts.
    CREATE FUNCTION journal_link(entries jsonb, digests text[]) RETURNS void LANGUAGE plpgsql AS $$
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
                           resource_type, resource_id, resource_name, member_ids, before, after, changes, reason)
      SELECT head_seq + e.ordinality, previous[e.ordinality], hashes[e.ordinality], 2, entry_at, e.actor, e.source,
             e.request_id, e.action, e.resource_type, e.resource_id, e.resource_name, e.member_ids,
             e.before, e.after, e.changes, e.reason
      FROM ROWS FROM (jsonb_populate_recordset(NULL::journal, entries)) WITH ORDINALITY AS e
      ORDER BY e.ordinality;
      UPDATE journal_chain SET seq = head_seq + n, hash = link WHERE singleton;
    END $$;

    -- Which transaction wrote a pending row, indexed, so a transaction finds its own rows without
    -- visiting the dead rows every committed transaction leaves behind (at 200 writes/s a scan of
    -- the table between two autovacuums would pass thousands, under the chain lock).
    ALTER TABLE journal_pending ADD COLUMN xact bigint NOT NULL DEFAULT txid_current();
    CREATE INDEX journal_pending_xact ON journal_pending (xact, id);

    -- Links this transaction's pending entries, oldest first.
    CREATE FUNCTION journal_link_pending() RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      pending record;
    BEGIN
      FOR pending IN SELECT id, entries, digests FROM journal_pending WHERE xact = txid_current() ORDER BY id LOOP
        PERFORM journal_link(pending.entries::jsonb, pending.digests);
        DELETE FROM journal_pending WHERE id = pending.id;
      END LOOP;
    END $$;

    -- At commit, once per pending row, in the order they were inserted. A row a large append has
    -- already linked (journal_append_now) is gone by then, and is skipped.
    CREATE OR REPLACE FUNCTION journal_chain_pending() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM journal_pending WHERE id = NEW.id;
      IF FOUND THEN
        PERFORM journal_link(NEW.entries::jsonb, NEW.digests);
      END IF;
      RETURN NULL;
    END $$;

    -- A large append (a batch) links its chunks as they arrive, so PostgreSQL stores one while Node
    -- prepares the next; the transaction's pending entries go first, to keep append order.
    CREATE FUNCTION journal_append_now(entries jsonb, digests text[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM journal_link_pending();
      PERFORM journal_link(entries, digests);
    END $$;
  `);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
