/**
 * The tables of access reviews (review_campaigns, review_items; decision 0610): every statement
 * that reads or writes them. Opening a campaign fills its items set-wise (one INSERT … SELECT per
 * kind of access), so a campaign over 100,000 people costs a few statements, not 100,000.
 */
import type { Knex } from 'knex';

export const REVIEW_SCOPES = ['rules', 'exceptions', 'idp', 'ledger'] as const;
export type ReviewScope = (typeof REVIEW_SCOPES)[number];
export const REVIEW_DECISIONS = ['keep', 'revoke', 'shorten'] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];
export type ReviewItemKind = 'rule' | 'exception' | 'idp-membership' | 'orphan' | 'drift';
export type ReviewerBasis = 'owner' | 'manager' | 'named' | 'fallback';

export interface Campaign {
  id: string;
  name: string;
  status: 'open' | 'closed';
  scope: ReviewScope[];
  deadline: string;
  defaultDecision: 'keep' | 'revoke';
  remindEveryHours: number;
  fallbackReviewer: string;
  policyVersion: string | null;
  openedBy: string;
  openedAt: string;
  lastRemindedAt: string | null;
  closedAt: string | null;
  total: number;
  decided: number;
}

export interface ReviewItem {
  id: string;
  campaignId: string;
  kind: ReviewItemKind;
  ruleName: string | null;
  exceptionId: string | null;
  userId: string | null;
  groupId: string | null;
  ledgerId: string | null;
  label: string;
  details: Record<string, unknown>;
  reviewer: string;
  reviewerBasis: ReviewerBasis;
  decision: ReviewDecision | null;
  reason: string | null;
  shortenUntil: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  byDefault: boolean;
  outcome: string | null;
  requestId: string | null;
}

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

const CAMPAIGN_COLUMNS = `c.id::text AS id, c.name, c.status, c.scope, c.deadline, c.default_decision,
  extract(epoch FROM c.remind_every)::float / 3600 AS remind_every_hours, c.fallback_reviewer, c.policy_version,
  c.opened_by, c.opened_at, c.last_reminded_at, c.closed_at,
  (SELECT count(*)::int FROM review_items i WHERE i.campaign_id = c.id) AS total,
  (SELECT count(*)::int FROM review_items i WHERE i.campaign_id = c.id AND i.decision IS NOT NULL) AS decided`;

interface CampaignRow {
  id: string;
  name: string;
  status: 'open' | 'closed';
  scope: ReviewScope[];
  deadline: Date;
  default_decision: 'keep' | 'revoke';
  remind_every_hours: number;
  fallback_reviewer: string;
  policy_version: string | null;
  opened_by: string;
  opened_at: Date;
  last_reminded_at: Date | null;
  closed_at: Date | null;
  total: number;
  decided: number;
}

function toCampaign(row: CampaignRow): Campaign {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    scope: row.scope,
    deadline: row.deadline.toISOString(),
    defaultDecision: row.default_decision,
    remindEveryHours: row.remind_every_hours,
    fallbackReviewer: row.fallback_reviewer,
    policyVersion: row.policy_version,
    openedBy: row.opened_by,
    openedAt: row.opened_at.toISOString(),
    lastRemindedAt: iso(row.last_reminded_at),
    closedAt: iso(row.closed_at),
    total: row.total,
    decided: row.decided,
  };
}

/** Ids read as text (bigint can exceed a JS number); queries order by the table's column, never this alias. */
const ITEM_COLUMNS = `id::text AS id, campaign_id::text AS campaign_id, kind, rule_name, exception_id::text AS exception_id, user_id::text AS user_id,
  group_id::text AS group_id, ledger_id::text AS ledger_id, label, details, reviewer, reviewer_basis, decision, reason, shorten_until,
  decided_by, decided_at, by_default, outcome, request_id`;

interface ItemRow {
  id: string;
  campaign_id: string;
  kind: ReviewItemKind;
  rule_name: string | null;
  exception_id: string | null;
  user_id: string | null;
  group_id: string | null;
  ledger_id: string | null;
  label: string;
  details: Record<string, unknown>;
  reviewer: string;
  reviewer_basis: ReviewerBasis;
  decision: ReviewDecision | null;
  reason: string | null;
  shorten_until: Date | null;
  decided_by: string | null;
  decided_at: Date | null;
  by_default: boolean;
  outcome: string | null;
  request_id: string | null;
}

function toItem(row: ItemRow): ReviewItem {
  return {
    id: row.id,
    campaignId: row.campaign_id,
    kind: row.kind,
    ruleName: row.rule_name,
    exceptionId: row.exception_id,
    userId: row.user_id,
    groupId: row.group_id,
    ledgerId: row.ledger_id,
    label: row.label,
    details: row.details,
    reviewer: row.reviewer,
    reviewerBasis: row.reviewer_basis,
    decision: row.decision,
    reason: row.reason,
    shortenUntil: iso(row.shorten_until),
    decidedBy: row.decided_by,
    decidedAt: iso(row.decided_at),
    byDefault: row.by_default,
    outcome: row.outcome,
    requestId: row.request_id,
  };
}

const ID = /^\d{1,18}$/;

export async function campaignById(db: Knex | Knex.Transaction, id: string, options: { forUpdate?: boolean } = {}): Promise<Campaign | undefined> {
  if (!ID.test(id)) return undefined;
  const { rows } = (await db.raw(`SELECT ${CAMPAIGN_COLUMNS} FROM review_campaigns c WHERE c.id = ?::bigint ${options.forUpdate ? 'FOR UPDATE OF c' : ''}`, [id])) as { rows: CampaignRow[] };
  return rows[0] ? toCampaign(rows[0]) : undefined;
}

/** Campaigns, newest first, with their progress. */
export async function listCampaigns(db: Knex, filter: { status?: 'open' | 'closed' | undefined } = {}): Promise<Campaign[]> {
  const { rows } = (await db.raw(`SELECT ${CAMPAIGN_COLUMNS} FROM review_campaigns c WHERE (?::text IS NULL OR c.status = ?::text) ORDER BY c.id DESC LIMIT 500`, [
    filter.status ?? null,
    filter.status ?? null,
  ])) as { rows: CampaignRow[] };
  return rows.map(toCampaign);
}

/** Open campaigns whose deadline has passed (the sweep applies their default). */
export async function dueCampaignIds(db: Knex, now: Date): Promise<string[]> {
  const { rows } = (await db.raw(`SELECT id::text AS id FROM review_campaigns WHERE status = 'open' AND deadline <= ? ORDER BY review_campaigns.id`, [now])) as { rows: Array<{ id: string }> };
  return rows.map((r) => r.id);
}

export async function reviewItem(db: Knex | Knex.Transaction, id: string, options: { forUpdate?: boolean } = {}): Promise<ReviewItem | undefined> {
  if (!ID.test(id)) return undefined;
  const { rows } = (await db.raw(`SELECT ${ITEM_COLUMNS} FROM review_items WHERE id = ?::bigint ${options.forUpdate ? 'FOR UPDATE' : ''}`, [id])) as { rows: ItemRow[] };
  return rows[0] ? toItem(rows[0]) : undefined;
}

export interface ItemFilter {
  /** Only items of these reviewers (userNames, any case). */
  reviewers?: readonly string[] | undefined;
  decided?: boolean | undefined;
  kind?: ReviewItemKind | undefined;
}

/** One page of a campaign's items in id order; `after` is the last id of the previous page. */
export async function listItems(db: Knex, campaignId: string, filter: ItemFilter, page: { after?: string | undefined; limit: number }): Promise<{ items: ReviewItem[]; next: string | undefined }> {
  const where = ['campaign_id = ?::bigint'];
  const bindings: Knex.RawBinding[] = [campaignId];
  if (filter.reviewers) {
    where.push('lower(reviewer) = ANY(?::text[])');
    bindings.push(filter.reviewers.map((r) => r.toLowerCase()));
  }
  if (filter.decided !== undefined) where.push(filter.decided ? 'decision IS NOT NULL' : 'decision IS NULL');
  if (filter.kind) {
    where.push('kind = ?');
    bindings.push(filter.kind);
  }
  if (page.after && ID.test(page.after)) {
    where.push('id > ?::bigint');
    bindings.push(page.after);
  }
  const { rows } = (await db.raw(`SELECT ${ITEM_COLUMNS} FROM review_items WHERE ${where.join(' AND ')} ORDER BY review_items.id LIMIT ?`, [...bindings, page.limit + 1])) as { rows: ItemRow[] };
  const items = rows.slice(0, page.limit).map(toItem);
  return { items, next: rows.length > page.limit ? items[items.length - 1]!.id : undefined };
}

export interface NewCampaign {
  name: string;
  scope: readonly ReviewScope[];
  deadline: Date;
  defaultDecision: 'keep' | 'revoke';
  remindEveryHours: number;
  fallbackReviewer: string;
  policyVersion: string | null;
  openedBy: string;
}

export async function insertCampaign(tx: Knex.Transaction, campaign: NewCampaign): Promise<string> {
  const { rows } = (await tx.raw(
    `INSERT INTO review_campaigns (name, scope, deadline, default_decision, remind_every, fallback_reviewer, policy_version, opened_by)
     VALUES (?, ?::text[], ?, ?, make_interval(secs => ?), ?, ?, ?) RETURNING id::text AS id`,
    [campaign.name, [...campaign.scope], campaign.deadline, campaign.defaultDecision, campaign.remindEveryHours * 3600, campaign.fallbackReviewer, campaign.policyVersion, campaign.openedBy],
  )) as { rows: Array<{ id: string }> };
  return rows[0]!.id;
}

export interface RuleItem {
  ruleName: string;
  label: string;
  details: Record<string, unknown>;
  reviewer: string;
  basis: ReviewerBasis;
}

/** People holding each role now (one grouped scan of policy_roles). */
export async function peoplePerRole(tx: Knex.Transaction): Promise<Map<string, number>> {
  const { rows } = (await tx.raw(`SELECT role, count(*)::int AS n FROM policy_roles GROUP BY role`)) as { rows: Array<{ role: string; n: number }> };
  return new Map(rows.map((r) => [r.role, r.n]));
}

export async function insertRuleItems(tx: Knex.Transaction, campaignId: string, rules: readonly RuleItem[]): Promise<number> {
  if (rules.length === 0) return 0;
  const result = (await tx.raw(
    `INSERT INTO review_items (campaign_id, kind, rule_name, label, details, reviewer, reviewer_basis)
     SELECT ?::bigint, 'rule', r.name, r.label, r.details, r.reviewer, r.basis
       FROM unnest(?::text[], ?::text[], ?::jsonb[], ?::text[], ?::text[]) AS r(name, label, details, reviewer, basis)`,
    [campaignId, rules.map((r) => r.ruleName), rules.map((r) => r.label), rules.map((r) => JSON.stringify(r.details)), rules.map((r) => r.reviewer), rules.map((r) => r.basis)],
  )) as { rowCount: number };
  return result.rowCount;
}

const ENTERPRISE_MANAGER = `u.resource->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->'manager'->>'value'`;
/** The person's manager (enterprise manager.value), if that is a user Roster knows. */
const MANAGER_JOIN = `LEFT JOIN users m ON m.id::text = lower(${ENTERPRISE_MANAGER})`;
const MANAGER_REVIEWER = `coalesce(m.resource->>'userName', ?), CASE WHEN m.id IS NULL THEN 'fallback' ELSE 'manager' END`;

/** Exceptions in force (approved access requests included: they are exceptions too), reviewed by the person's manager. */
export async function insertExceptionItems(tx: Knex.Transaction, campaignId: string, fallback: string): Promise<number> {
  const result = (await tx.raw(
    `INSERT INTO review_items (campaign_id, kind, exception_id, user_id, group_id, label, details, reviewer, reviewer_basis)
     SELECT ?::bigint, 'exception', e.id, e.user_id, e.group_id, (u.resource->>'userName') || ' in ' || (g.resource->>'displayName'),
            jsonb_build_object('userName', u.resource->>'userName', 'group', g.resource->>'displayName', 'reason', e.reason,
                               'grantedBy', e.granted_by, 'grantedAt', e.granted_at, 'expiresAt', e.expires_at),
            ${MANAGER_REVIEWER}
       FROM policy_exceptions e
       JOIN users u ON u.id = e.user_id
       JOIN groups g ON g.id = e.group_id
       ${MANAGER_JOIN}
      WHERE e.ended_at IS NULL AND e.expires_at > now()
      ORDER BY lower(g.resource->>'displayName'), lower(u.resource->>'userName')`,
    [campaignId, fallback],
  )) as { rowCount: number };
  return result.rowCount;
}

/**
 * Users an IdP put into a group Roster does not manage but pushes to a connector: no rule explains
 * them, and the push carries them downstream. Reviewed by the person's manager.
 */
export async function insertIdpMembershipItems(tx: Knex.Transaction, campaignId: string, fallback: string): Promise<number> {
  const result = (await tx.raw(
    `INSERT INTO review_items (campaign_id, kind, user_id, group_id, label, details, reviewer, reviewer_basis)
     SELECT ?::bigint, 'idp-membership', u.id, g.id, (u.resource->>'userName') || ' in ' || (g.resource->>'displayName'),
            jsonb_build_object('userName', u.resource->>'userName', 'group', g.resource->>'displayName', 'since', gm.added_at,
                               'connectors', (SELECT array_agg(DISTINCT sl.connector ORDER BY sl.connector) FROM sync_links sl WHERE sl.resource_type = 'Group' AND sl.resource_id = g.id)),
            ${MANAGER_REVIEWER}
       FROM group_members gm
       JOIN groups g ON g.id = gm.group_id AND g.managed_by IS NULL
       JOIN users u ON u.id = gm.member_user_id
       ${MANAGER_JOIN}
      WHERE EXISTS (SELECT 1 FROM sync_links sl WHERE sl.resource_type = 'Group' AND sl.resource_id = g.id)
      ORDER BY lower(g.resource->>'displayName'), lower(u.resource->>'userName')`,
    [campaignId, fallback],
  )) as { rowCount: number };
  return result.rowCount;
}

/** Open orphans and drift from the ledger (an expired ignore is open again), reviewed by the named reviewer. */
export async function insertLedgerItems(tx: Knex.Transaction, campaignId: string, reviewer: string, basis: ReviewerBasis): Promise<number> {
  const result = (await tx.raw(
    `INSERT INTO review_items (campaign_id, kind, user_id, ledger_id, label, details, reviewer, reviewer_basis)
     SELECT ?::bigint, l.kind, CASE WHEN l.resource_type = 'User' THEN l.resource_id END, l.id, l.connector || ': ' || l.name,
            jsonb_build_object('connector', l.connector, 'resourceType', l.resource_type, 'resourceId', l.resource_id, 'remoteId', l.remote_id,
                               'name', l.name, 'firstSeenAt', l.first_seen_at, 'finding', l.details),
            ?, ?
       FROM governance_ledger l
      WHERE l.status = 'open' OR (l.status = 'ignored' AND l.ignored_until <= now())
      ORDER BY l.id`,
    [campaignId, reviewer, basis],
  )) as { rowCount: number };
  return result.rowCount;
}

export interface DecisionRecord {
  decision: ReviewDecision;
  reason: string;
  shortenUntil?: Date | undefined;
  decidedBy: string;
  byDefault: boolean;
  outcome: string;
  requestId: string;
}

/** Stores a decision on an undecided item of an open campaign; false if it was decided (or closed) meanwhile. */
export async function recordDecision(tx: Knex.Transaction, itemId: string, record: DecisionRecord): Promise<boolean> {
  const result = (await tx.raw(
    `UPDATE review_items i SET decision = ?, reason = ?, shorten_until = ?, decided_by = ?, decided_at = now(), by_default = ?, outcome = ?, request_id = ?
      WHERE i.id = ?::bigint AND i.decision IS NULL
        AND EXISTS (SELECT 1 FROM review_campaigns c WHERE c.id = i.campaign_id AND c.status = 'open')`,
    [record.decision, record.reason, record.shortenUntil ?? null, record.decidedBy, record.byDefault, record.outcome, record.requestId, itemId],
  )) as { rowCount: number };
  return result.rowCount === 1;
}

export async function closeCampaign(tx: Knex.Transaction, campaignId: string): Promise<void> {
  await tx.raw(`UPDATE review_campaigns SET status = 'closed', closed_at = now() WHERE id = ?::bigint`, [campaignId]);
}

/** Undecided items per reviewer, for reminders. */
export async function pendingByReviewer(db: Knex | Knex.Transaction, campaignId: string): Promise<Array<{ reviewer: string; pending: number }>> {
  const { rows } = (await db.raw(
    `SELECT reviewer, count(*)::int AS pending FROM review_items WHERE campaign_id = ?::bigint AND decision IS NULL GROUP BY reviewer ORDER BY reviewer`,
    [campaignId],
  )) as { rows: Array<{ reviewer: string; pending: number }> };
  return rows;
}

export async function markReminded(tx: Knex.Transaction, campaignId: string): Promise<void> {
  await tx.raw(`UPDATE review_campaigns SET last_reminded_at = now() WHERE id = ?::bigint`, [campaignId]);
}

/** The userNames a console person reviews as: the user whose userName or externalId is their sign-in subject. */
export async function reviewerNamesOf(db: Knex, subject: string): Promise<string[]> {
  const { rows } = (await db.raw(`SELECT resource->>'userName' AS name FROM users WHERE lower(resource->>'userName') = lower(?) OR resource->>'externalId' = ?`, [subject, subject])) as {
    rows: Array<{ name: string }>;
  };
  return [subject, ...rows.map((r) => r.name)];
}

export interface ReportRow extends ReviewItem {
  /** The journal entries of the decision (same request id): the decision and what it changed. */
  journalIds: number[];
}

/** Every item of a campaign with its decision and journal entries, in id order. */
export async function reportRows(db: Knex, campaignId: string): Promise<ReportRow[]> {
  const { rows } = (await db.raw(
    `SELECT ${ITEM_COLUMNS}, CASE WHEN request_id IS NULL THEN '{}'::bigint[] ELSE ARRAY(SELECT j.id FROM journal j WHERE j.request_id = i.request_id ORDER BY j.id) END AS journal_ids
       FROM review_items i WHERE campaign_id = ?::bigint ORDER BY i.id`,
    [campaignId],
  )) as { rows: Array<ItemRow & { journal_ids: string[] }> };
  return rows.map((row) => ({ ...toItem(row), journalIds: row.journal_ids.map(Number) }));
}
