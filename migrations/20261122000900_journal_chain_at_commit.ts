/**
 * Journal entries are linked into the hash chain at commit, inside PostgreSQL (decision 0303).
 *
 * Before: the append locked the chain head, hashed in Node, inserted, and the lock was held until
 * the transaction's COMMIT came back from Node: two round trips through a busy event loop per
 * write, during which every other writer waited. Now the append inserts one `journal_pending` row
 * (its entries and each entry's digest, computed in Node) and takes no lock. A deferred
 * constraint trigger runs `journal_chain_pending()` as part of COMMIT: it locks the head, links
 * the entries (format 2, see src/journal/hash.ts), inserts them into `journal` and moves the head.
 * The lock is then held for the trigger and the commit record only.
 *
 * `journal_pending` never keeps a row: the trigger deletes it in the same transaction. It is
 * UNLOGGED because its rows cannot outlive their transaction (no WAL needed for a crash to lose
 * nothing: the entries reach `journal`, a logged table, before COMMIT completes).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- 1: hashEntry (position and time inside the canonical JSON); 2: chainLink over entryDigest.
    ALTER TABLE journal ADD COLUMN chain_version smallint NOT NULL DEFAULT 1;

    CREATE UNLOGGED TABLE journal_pending (
      id bigserial PRIMARY KEY,
      -- Journal rows as json_populate_recordset(NULL::journal, …) reads them, without chain fields.
      entries json NOT NULL,
      -- entryDigest of each entry, in the same order.
      digests text[] NOT NULL,
      CHECK (json_array_length(entries) = cardinality(digests))
    );

    -- Must stay the same formula as chainLink() in src/journal/hash.ts.
    CREATE FUNCTION journal_chain_pending() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      head_seq bigint;
      head_hash text;
      entry_at timestamptz;
      at_millis bigint;
      previous text[] := ARRAY[]::text[];
      hashes text[] := ARRAY[]::text[];
      link text;
      n integer := cardinality(NEW.digests);
    BEGIN
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
          'roster-journal-v2' || E'\\n' || link || E'\\n' || (head_seq + i) || E'\\n' || at_millis || E'\\n' || NEW.digests[i], 'UTF8')), 'hex');
        hashes[i] := link;
      END LOOP;
      INSERT INTO journal (seq, prev_hash, hash, chain_version, at, actor, source, request_id, action,
                           resource_type, resource_id, resource_name, member_ids, before, after, changes, reason)
      SELECT head_seq + e.ordinality, previous[e.ordinality], hashes[e.ordinality], 2, entry_at, e.actor, e.source,
             e.request_id, e.action, e.resource_type, e.resource_id, e.resource_name, e.member_ids,
             e.before, e.after, e.changes, e.reason
      FROM ROWS FROM (json_populate_recordset(NULL::journal, NEW.entries)) WITH ORDINALITY AS e
      ORDER BY e.ordinality;
      UPDATE journal_chain SET seq = head_seq + n, hash = link WHERE singleton;
      DELETE FROM journal_pending WHERE id = NEW.id;
      RETURN NULL;
    END $$;

    CREATE CONSTRAINT TRIGGER journal_pending_chain AFTER INSERT ON journal_pending
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_chain_pending();
  `);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
