/**
 * The journal as evidence (issue #5).
 *
 * - Every entry gets a chain position (`seq`), the previous entry's hash and its own hash, so the
 *   journal is one verifiable chain. `journal_chain` holds the head (last position and hash); the
 *   append locks that row, which serialises appends and lets `journal verify` notice a deleted tail.
 * - `resource_name` (userName / displayName at append time) and `member_ids` (users and groups a
 *   membership change touched) make "--user bob" and "--group Finance" answerable from the journal
 *   alone, also after the resource was deleted or renamed.
 * - Triggers refuse UPDATE, DELETE and TRUNCATE on `journal`, except DELETE by the retention purge,
 *   which leaves a signed row in `journal_checkpoints` for every prefix it removes.
 *
 * Rows written before this migration are backfilled: names and member ids in SQL, then chained
 * in id order (hashes computed by the same code the append uses).
 */
import type { Knex } from 'knex';
import { GENESIS_HASH, hashEntry } from '../src/journal/hash.js';
import { contentOfRow, type JournalRow } from '../src/journal/row.js';

const BACKFILL_BATCH = 2000;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE journal
      ADD COLUMN seq bigint,
      ADD COLUMN prev_hash text,
      ADD COLUMN hash text,
      ADD COLUMN resource_name text,
      ADD COLUMN member_ids uuid[];

    -- The hash covers the timestamp as the application reads it (milliseconds).
    UPDATE journal SET at = date_trunc('milliseconds', at);

    UPDATE journal SET resource_name = CASE resource_type
      WHEN 'User' THEN coalesce(after->>'userName', before->>'userName')
      WHEN 'Group' THEN coalesce(after->>'displayName', before->>'displayName')
    END;
    UPDATE journal j SET resource_name = u.resource->>'userName'
      FROM users u WHERE j.resource_name IS NULL AND j.resource_type = 'User' AND u.id = j.resource_id;
    UPDATE journal j SET resource_name = g.resource->>'displayName'
      FROM groups g WHERE j.resource_name IS NULL AND j.resource_type = 'Group' AND g.id = j.resource_id;
    UPDATE journal SET member_ids = ARRAY(
        SELECT DISTINCT lower(m->>'value')::uuid
        FROM jsonb_array_elements(coalesce(changes->'membersAdded', '[]') || coalesce(changes->'membersRemoved', '[]')) AS m
        WHERE m->>'value' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
      WHERE resource_type = 'Group' AND jsonb_typeof(changes) = 'object'
        AND (changes->'membersAdded' IS NOT NULL OR changes->'membersRemoved' IS NOT NULL);
    UPDATE journal SET member_ids = NULL WHERE member_ids = '{}';

    CREATE TABLE journal_chain (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      seq bigint NOT NULL,
      hash text NOT NULL
    );

    -- Signed records of purged prefixes: verification resumes from the newest one.
    CREATE TABLE journal_checkpoints (
      id bigserial PRIMARY KEY,
      created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
      through_seq bigint NOT NULL UNIQUE,
      through_hash text NOT NULL,
      through_at timestamptz NOT NULL,
      entries_removed bigint NOT NULL,
      cutoff timestamptz NOT NULL,
      key_id text NOT NULL,
      signature text NOT NULL
    );

    -- Used only when ROSTER_JOURNAL_KEY is unset (see docs/decisions/0301-journal-checkpoint-key.md).
    CREATE TABLE journal_keys (
      key_id text PRIMARY KEY,
      secret text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
  `);

  await backfillChain(knex);

  await knex.raw(`
    CREATE UNIQUE INDEX journal_seq ON journal (seq);
    CREATE INDEX journal_resource_name ON journal (resource_type, lower(resource_name));
    CREATE INDEX journal_member_ids ON journal USING gin (member_ids) WHERE member_ids IS NOT NULL;
    CREATE INDEX journal_actor ON journal (actor, id);

    CREATE FUNCTION journal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- The retention purge sets roster.journal_purge_through (transaction-local) to the last
      -- position it removes; it also writes the checkpoint for that position in the same transaction.
      IF TG_OP = 'DELETE' AND OLD.seq IS NOT NULL
         AND OLD.seq <= coalesce(nullif(current_setting('roster.journal_purge_through', true), ''), '0')::bigint THEN
        RETURN OLD;
      END IF;
      RAISE EXCEPTION 'the journal is append-only: % is refused (old entries are removed only by "roster journal purge")', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
      FOR EACH ROW EXECUTE FUNCTION journal_refuse_change();

    CREATE FUNCTION journal_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'the journal is append-only: TRUNCATE is refused' USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal
      FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_truncate();
    CREATE TRIGGER journal_checkpoints_no_truncate BEFORE TRUNCATE ON journal_checkpoints
      FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_truncate();

    CREATE FUNCTION journal_checkpoints_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'journal checkpoints are append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER journal_checkpoints_append_only BEFORE UPDATE OR DELETE ON journal_checkpoints
      FOR EACH ROW EXECUTE FUNCTION journal_checkpoints_refuse_change();

    -- The head only moves forward; it is never deleted.
    CREATE FUNCTION journal_chain_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND NEW.seq >= OLD.seq THEN RETURN NEW; END IF;
      RAISE EXCEPTION 'the journal chain head only moves forward: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER journal_chain_forward_only BEFORE UPDATE OR DELETE ON journal_chain
      FOR EACH ROW EXECUTE FUNCTION journal_chain_forward_only();
  `);
}

/** Chains the rows that exist before this migration, oldest first, and sets the head. */
async function backfillChain(knex: Knex): Promise<void> {
  let seq = 0;
  let prevHash = GENESIS_HASH;
  let afterId = 0;
  for (;;) {
    const rows = (await knex('journal').where('id', '>', afterId).orderBy('id').limit(BACKFILL_BATCH)) as JournalRow[];
    if (rows.length === 0) break;
    const updates: Array<{ id: number; seq: number; prev: string; hash: string }> = [];
    for (const row of rows) {
      seq += 1;
      const hash = hashEntry(contentOfRow(row, seq), prevHash);
      updates.push({ id: row.id, seq, prev: prevHash, hash });
      prevHash = hash;
    }
    await knex.raw(
      `UPDATE journal j SET seq = u.seq, prev_hash = u.prev, hash = u.hash
       FROM jsonb_to_recordset(?::jsonb) AS u(id bigint, seq bigint, prev text, hash text) WHERE j.id = u.id`,
      [JSON.stringify(updates)],
    );
    afterId = rows[rows.length - 1]!.id;
  }
  await knex.raw(`INSERT INTO journal_chain (seq, hash) VALUES (?, ?)`, [seq, prevHash]);
}

export async function down(): Promise<void> {
  throw new Error('Roster migrations are forward-only');
}
