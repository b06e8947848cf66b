/**
 * Access reviews (issue 17, decision 0610): a campaign certifies the policy's rules (one item per
 * role, decided by the rule's owner) and, item by item, only access no rule explains (exceptions,
 * IdP memberships in groups Roster pushes downstream, orphans and drift from the ledger). Each item
 * has one reviewer and, once decided, the decision, the reason, who took it and when, and the
 * request id its journal entries carry (the report links them by it).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE review_campaigns (
      id bigserial PRIMARY KEY,
      name text NOT NULL,
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
      -- What was chosen: any of 'rules', 'exceptions', 'idp', 'ledger'.
      scope text[] NOT NULL,
      deadline timestamptz NOT NULL,
      default_decision text NOT NULL CHECK (default_decision IN ('keep', 'revoke')),
      remind_every interval NOT NULL,
      fallback_reviewer text NOT NULL,
      policy_version text,
      opened_by text NOT NULL,
      opened_at timestamptz NOT NULL DEFAULT now(),
      last_reminded_at timestamptz,
      closed_at timestamptz
    );

    CREATE TABLE review_items (
      id bigserial PRIMARY KEY,
      campaign_id bigint NOT NULL REFERENCES review_campaigns(id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('rule', 'exception', 'idp-membership', 'orphan', 'drift')),
      -- What is reviewed, by kind: the role; the exception; the membership; the ledger item.
      rule_name text,
      exception_id uuid,
      user_id uuid,
      group_id uuid,
      ledger_id bigint,
      -- How the item reads in lists and the report ("alice@example.com in Payroll").
      label text NOT NULL,
      -- Facts shown to the reviewer: the people a rule grants, an exception's reason and expiry, …
      details jsonb NOT NULL DEFAULT '{}',
      reviewer text NOT NULL,
      reviewer_basis text NOT NULL CHECK (reviewer_basis IN ('owner', 'manager', 'named', 'fallback')),
      decision text CHECK (decision IN ('keep', 'revoke', 'shorten')),
      reason text,
      shorten_until timestamptz,
      decided_by text,
      decided_at timestamptz,
      by_default boolean NOT NULL DEFAULT false,
      -- What the decision did ("exception revoked", "rule decertified: …").
      outcome text,
      request_id text
    );
    CREATE INDEX review_items_campaign ON review_items (campaign_id, id);
    CREATE INDEX review_items_reviewer ON review_items (lower(reviewer), campaign_id) WHERE decision IS NULL;
    CREATE INDEX review_campaigns_open ON review_campaigns (deadline) WHERE status = 'open';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE review_items; DROP TABLE review_campaigns`);
}
