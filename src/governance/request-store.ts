/**
 * The access_requests and access_request_decisions tables (migration 20261207190000): every
 * statement that reads or writes them. The rules (who may decide what, when) are in requests.ts.
 */
import type { Knex } from 'knex';

export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'withdrawn', 'expired'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export interface RequestDecision {
  stage: number;
  decision: 'approve' | 'deny';
  approver: string;
  approverUserId: string | null;
  actor: string;
  reason: string;
  decidedAt: string;
}

export interface AccessRequest {
  id: number;
  entry: string;
  user: { id: string; userName: string };
  requestedBy: string;
  requesterUserId: string | null;
  justification: string | null;
  durationDays: number | null;
  requestedUntil: string | null;
  status: RequestStatus;
  /** Stages approved so far; the next to decide is stage + 1. */
  stage: number;
  stageCount: number;
  policyVersion: string;
  createdAt: string;
  expiresAt: string;
  closedAt: string | null;
  closedBy: string | null;
  closedReason: string | null;
  grantedUntil: string | null;
  decisions: RequestDecision[];
}

interface RequestRow {
  id: string;
  catalog_entry: string;
  user_id: string;
  user_name: string | null;
  requested_by: string;
  requester_user_id: string | null;
  justification: string | null;
  duration_days: number | null;
  requested_until: Date | null;
  status: RequestStatus;
  stage: number;
  stage_count: number;
  policy_version: string;
  created_at: Date;
  expires_at: Date;
  closed_at: Date | null;
  closed_by: string | null;
  closed_reason: string | null;
  granted_until: Date | null;
}

interface DecisionRow {
  request_id: string;
  stage: number;
  decision: 'approve' | 'deny';
  approver_name: string;
  approver_user_id: string | null;
  actor: string;
  reason: string;
  decided_at: Date;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

const SELECT = `SELECT r.*, u.resource->>'userName' AS user_name FROM access_requests r JOIN users u ON u.id = r.user_id`;

async function withDecisions(db: Knex | Knex.Transaction, rows: RequestRow[]): Promise<AccessRequest[]> {
  if (rows.length === 0) return [];
  const decisions = (await db('access_request_decisions').whereIn('request_id', rows.map((r) => r.id)).orderBy(['request_id', 'stage'])) as DecisionRow[];
  return rows.map((r) => ({
    id: Number(r.id),
    entry: r.catalog_entry,
    user: { id: r.user_id, userName: r.user_name ?? r.user_id },
    requestedBy: r.requested_by,
    requesterUserId: r.requester_user_id,
    justification: r.justification,
    durationDays: r.duration_days,
    requestedUntil: iso(r.requested_until),
    status: r.status,
    stage: r.stage,
    stageCount: r.stage_count,
    policyVersion: r.policy_version,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
    closedAt: iso(r.closed_at),
    closedBy: r.closed_by,
    closedReason: r.closed_reason,
    grantedUntil: iso(r.granted_until),
    decisions: decisions
      .filter((d) => d.request_id === r.id)
      .map((d) => ({ stage: d.stage, decision: d.decision, approver: d.approver_name, approverUserId: d.approver_user_id, actor: d.actor, reason: d.reason, decidedAt: d.decided_at.toISOString() })),
  }));
}

export interface NewRequest {
  entry: string;
  userId: string;
  requestedBy: string;
  requesterUserId: string | undefined;
  justification: string | undefined;
  durationDays: number | undefined;
  requestedUntil: Date | undefined;
  stageCount: number;
  policyVersion: string;
  expiresAt: Date;
}

export async function insertRequest(tx: Knex.Transaction, request: NewRequest): Promise<number> {
  const [row] = (await tx('access_requests')
    .insert({
      catalog_entry: request.entry,
      user_id: request.userId,
      requested_by: request.requestedBy,
      requester_user_id: request.requesterUserId ?? null,
      justification: request.justification ?? null,
      duration_days: request.durationDays ?? null,
      requested_until: request.requestedUntil ?? null,
      stage_count: request.stageCount,
      policy_version: request.policyVersion,
      expires_at: request.expiresAt,
    })
    .returning('id')) as Array<{ id: string }>;
  return Number(row!.id);
}

export async function accessRequest(db: Knex | Knex.Transaction, id: number, options: { lock?: boolean } = {}): Promise<AccessRequest | undefined> {
  const { rows } = (await db.raw(`${SELECT} WHERE r.id = ?${options.lock ? ' FOR NO KEY UPDATE OF r' : ''}`, [id])) as { rows: RequestRow[] };
  return (await withDecisions(db, rows))[0];
}

export interface RequestFilter {
  status?: RequestStatus | undefined;
  /** Requests for this user, or filed by them. */
  involving?: string | undefined;
  entry?: string | undefined;
}

/** Newest first, id-cursor paging. */
export async function listRequests(db: Knex, filter: RequestFilter, page: { before?: number | undefined; limit: number }): Promise<{ items: AccessRequest[]; next?: number }> {
  const where: string[] = [];
  const values: Array<string | number> = [];
  const add = (clause: string, ...bound: Array<string | number>) => {
    where.push(clause);
    values.push(...bound);
  };
  if (filter.status) add('r.status = ?', filter.status);
  if (filter.entry) add('r.catalog_entry = ?', filter.entry);
  if (filter.involving) add('(r.user_id = ? OR r.requester_user_id = ?)', filter.involving, filter.involving);
  if (page.before !== undefined) add('r.id < ?', page.before);
  const { rows } = (await db.raw(`${SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY r.id DESC LIMIT ?`, [...values, page.limit + 1])) as { rows: RequestRow[] };
  const items = await withDecisions(db, rows.slice(0, page.limit));
  return rows.length > page.limit ? { items, next: items[items.length - 1]!.id } : { items };
}

/** Every pending request (the approver's inbox filters them by who may decide the next stage). */
export async function pendingRequests(db: Knex, limit: number): Promise<AccessRequest[]> {
  const { rows } = (await db.raw(`${SELECT} WHERE r.status = 'pending' ORDER BY r.id LIMIT ?`, [limit])) as { rows: RequestRow[] };
  return withDecisions(db, rows);
}

export async function insertDecision(
  tx: Knex.Transaction,
  decision: { requestId: number; stage: number; decision: 'approve' | 'deny'; approverUserId: string; approverName: string; actor: string; reason: string },
): Promise<void> {
  await tx('access_request_decisions').insert({
    request_id: decision.requestId,
    stage: decision.stage,
    decision: decision.decision,
    approver_user_id: decision.approverUserId,
    approver_name: decision.approverName,
    actor: decision.actor,
    reason: decision.reason,
  });
}

export async function advanceStage(tx: Knex.Transaction, id: number, stage: number): Promise<void> {
  await tx('access_requests').where({ id }).update({ stage });
}

export async function closeRequest(
  tx: Knex.Transaction,
  id: number,
  close: { status: Exclude<RequestStatus, 'pending'>; by: string; reason?: string | undefined; stage?: number; grantedUntil?: Date },
): Promise<void> {
  await tx('access_requests')
    .where({ id })
    .update({
      status: close.status,
      closed_at: tx.fn.now(),
      closed_by: close.by,
      closed_reason: close.reason ?? null,
      ...(close.stage !== undefined ? { stage: close.stage } : {}),
      ...(close.grantedUntil ? { granted_until: close.grantedUntil } : {}),
    });
}
