/**
 * Access requests (issue 17, decision 0601), the same steps from the console, the ops API and the
 * CLI, each one write-path transaction journaled with who took it:
 *   request   a person asks for a catalog entry for themselves, or an operator for someone
 *             (`request.create`); the entry's requesters filter, its justification rule, its
 *             longest duration and separation of duties are checked first
 *   decide    an approver of the next stage approves or denies with a reason (`request.approve`,
 *             `request.deny`); nobody decides a request for themselves or one they filed; SoD is
 *             checked again; approving the last stage grants the access as exceptions linked to
 *             the request (`exception.grant`), pushed to connectors and ended at their date
 *   withdraw  the requester (or the person it is for) takes it back (`request.withdraw`)
 *   expire    a request undecided by its expiry closes (`request.expire`, a queued job)
 * Approvers of each stage are notified by a queued job (request-notify.ts), so a failing mail
 * server or webhook never blocks or undoes a step.
 */
import type { Knex } from 'knex';
import type { Actor } from '../journal/entry.js';
import { OperatorError } from '../lib/operator-error.js';
import { describeStage, type CatalogEntry } from '../policy/catalog.js';
import { recordException } from '../policy/exceptions.js';
import { groupsByName } from '../policy/managed-groups.js';
import { appliedPolicy } from '../policy/policy-state.js';
import type { Policy } from '../policy/policy-file.js';
import { reconcileUserById } from '../policy/reconcile-user.js';
import { enqueue } from '../queue/queue.js';
import { matchesFilter } from '../scim/filter/match.js';
import type { ChangeContext, WritePath } from '../write/write-path.js';
import { mayDecideStage, stageApprovers } from './request-approvers.js';
import { conflictsHeld } from './request-sod.js';
import { accessRequest, advanceStage, closeRequest, insertDecision, insertRequest, type AccessRequest } from './request-store.js';

export const EXPIRE_TASK = 'governance.request-expire';
export const NOTIFY_TASK = 'governance.request-notify';
export const DEFAULT_UNDECIDED_DAYS = 14;
const DAY_MS = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A step refused, with the HTTP status the API answers (the CLI and the console print the message). */
export class RequestError extends OperatorError {
  override name = 'RequestError';
  constructor(
    readonly status: 400 | 403 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/** Who takes a step: the journal actor, and the Roster user they are (when known). */
export interface Party {
  actor: Actor;
  userId?: string | undefined;
}

export interface NotifyPayload {
  requestId: number;
  stage: number;
}

async function policyWithCatalog(db: Knex | Knex.Transaction): Promise<Policy> {
  const policy = await appliedPolicy(db);
  if (!policy) throw new RequestError(409, 'No policy is applied, so nothing can be requested; apply one with a catalog (docs/policy.md#catalog)');
  return policy;
}

export function catalogEntry(policy: Policy, name: string): CatalogEntry {
  const entry = policy.catalog.find((e) => e.name === name);
  if (!entry) throw new RequestError(404, `The catalog has no entry "${name}"; the entries are: ${policy.catalog.map((e) => e.name).join(', ') || 'none (add a catalog to the policy)'}`);
  return entry;
}

/** A Roster user by userName or id. */
export async function findUser(db: Knex | Knex.Transaction, user: string): Promise<{ id: string; resource: Record<string, unknown> } | undefined> {
  const query = db('users').select('id', 'resource');
  return (await (UUID.test(user) ? query.where({ id: user.toLowerCase() }) : query.whereRaw(`lower(resource->>'userName') = lower(?)`, [user])).first()) as
    | { id: string; resource: Record<string, unknown> }
    | undefined;
}

export interface NewRequestInput {
  entry: string;
  /** userName or id of the person who gets the access. */
  user: string;
  justification?: string | undefined;
  /** How long: days from approval, or until a date; default the entry's longest. */
  days?: number | undefined;
  until?: Date | undefined;
}

export interface RequestOptions {
  /** How long a request may wait for its decisions (ROSTER_ACCESS_REQUEST_EXPIRY_DAYS). */
  undecidedMs?: number;
  now?: Date;
}

function checkDuration(entry: CatalogEntry, input: NewRequestInput, now: Date): { days?: number; until?: Date } {
  if (input.days !== undefined && input.until !== undefined) throw new RequestError(400, 'Give days or until, not both');
  if (input.until !== undefined) {
    if (input.until.getTime() <= now.getTime()) throw new RequestError(400, `until ${input.until.toISOString()} is in the past`);
    if (input.until.getTime() > now.getTime() + entry.maxDays * DAY_MS) throw new RequestError(400, `"${entry.name}" is granted for at most ${entry.maxDays} days; ask for less`);
    return { until: input.until };
  }
  const days = input.days ?? entry.maxDays;
  if (!Number.isInteger(days) || days < 1 || days > entry.maxDays) throw new RequestError(400, `days must be a whole number from 1 to ${entry.maxDays} (the longest "${entry.name}" is granted for)`);
  return { days };
}

async function refuseConflicts(db: Knex.Transaction, policy: Policy, entry: CatalogEntry, userId: string, userName: string): Promise<void> {
  const held = await conflictsHeld(db, policy, entry, userId);
  if (held.length) throw new RequestError(409, `Separation of duties: ${userName} holds ${held.join(', ')}, which conflicts with "${entry.name}"; nothing was changed`);
}

export async function createRequest(writePath: WritePath, input: NewRequestInput, by: Party, options: RequestOptions = {}): Promise<AccessRequest> {
  const now = options.now ?? new Date();
  const policy = await policyWithCatalog(writePath.db);
  const entry = catalogEntry(policy, input.entry);
  const justification = input.justification?.trim() || undefined;
  if (entry.justificationRequired && (justification?.length ?? 0) < 5) throw new RequestError(400, `"${entry.name}" needs a justification: say why, e.g. "quarter-end close (FIN-231)"`);
  const duration = checkDuration(entry, input, now);
  const id = await writePath.run(by.actor, async ({ tx, changes }) => {
    const subject = await findUser(tx, input.user);
    if (!subject) throw new RequestError(404, `No user "${input.user}" (give a userName or a user id)`);
    await tx('users').select('id').where({ id: subject.id }).forNoKeyUpdate();
    const userName = String(subject.resource.userName);
    if (subject.resource.active === false) throw new RequestError(409, `${userName} is deactivated; access is requested for active people only`);
    if (entry.requesters && !matchesFilter(entry.requesters.filter, subject.resource, { type: 'User' })) {
      throw new RequestError(403, `${userName} may not request "${entry.name}": it is offered to people matching ${entry.requesters.when}`);
    }
    const open = (await tx('access_requests').select('id').where({ user_id: subject.id, catalog_entry: entry.name, status: 'pending' }).first()) as { id: string } | undefined;
    if (open) throw new RequestError(409, `${userName} already has request #${open.id} for "${entry.name}" waiting for a decision`);
    await refuseConflicts(tx, policy, entry, subject.id, userName);
    // A stage nobody may decide would only wait until the request expires: say so now.
    for (const [index, stage] of entry.stages.entries()) {
      const approvers = (await stageApprovers(tx, stage, subject.resource)).filter((a) => a.userId !== subject.id && a.userId !== by.userId);
      if (approvers.length === 0) {
        throw new RequestError(409, `Nobody could decide stage ${index + 1} of "${entry.name}" for ${userName} (it is decided by ${describeStage(stage)}${stage.manager ? '; is their manager set in HR?' : ''}); nothing was filed`);
      }
    }
    const expiresAt = new Date(now.getTime() + (options.undecidedMs ?? DEFAULT_UNDECIDED_DAYS * DAY_MS));
    const requestId = await insertRequest(tx, {
      entry: entry.name,
      userId: subject.id,
      requestedBy: by.actor.name,
      requesterUserId: by.userId,
      justification,
      durationDays: duration.days,
      requestedUntil: duration.until,
      stageCount: entry.stages.length,
      policyVersion: policy.version,
      expiresAt,
    });
    changes.record({
      action: 'request.create',
      changes: { request: requestId, entry: entry.name, groups: entry.grants.groups, userId: subject.id, userName, ...duration, expiresAt: expiresAt.toISOString() },
      reason: { justification: justification ?? null, policyVersion: policy.version, self: by.userId === subject.id },
    });
    await enqueue(tx, EXPIRE_TASK, { requestId }, { jobKey: `request:expire:${requestId}`, runAt: expiresAt, maxAttempts: 5 });
    await notifyStage(tx, requestId, 1);
    return requestId;
  });
  return (await accessRequest(writePath.db, id))!;
}

/** Queues the notification of a stage's approvers (sent after the commit, by the worker). */
async function notifyStage(tx: Knex.Transaction, requestId: number, stage: number): Promise<void> {
  const payload: NotifyPayload = { requestId, stage };
  await enqueue(tx, NOTIFY_TASK, payload, { jobKey: `request:notify:${requestId}:${stage}`, maxAttempts: 1 });
}

async function pendingRequest(tx: Knex.Transaction, id: number, now: Date): Promise<AccessRequest> {
  const request = await accessRequest(tx, id, { lock: true });
  if (!request) throw new RequestError(404, `No access request #${id}`);
  if (request.status !== 'pending') throw new RequestError(409, `Request #${id} is ${request.status} already${request.closedBy ? ` (by ${request.closedBy})` : ''}`);
  if (new Date(request.expiresAt).getTime() <= now.getTime()) throw new RequestError(409, `Request #${id} expired at ${request.expiresAt} undecided; ask again`);
  return request;
}

export interface Decision {
  decision: 'approve' | 'deny';
  reason: string;
}

/**
 * An approver decides the next stage. `approver.userId` is required: approvers are people. A
 * request for or filed by the approver, or filed by the same actor, is refused.
 */
export async function decideRequest(writePath: WritePath, id: number, decision: Decision, approver: Party, options: { now?: Date } = {}): Promise<AccessRequest> {
  const now = options.now ?? new Date();
  const reason = decision.reason.trim();
  if (reason.length < 3) throw new RequestError(400, `A reason is required to ${decision.decision}: it is kept with the decision and shown to the requester`);
  if (!approver.userId) throw new RequestError(403, `${approver.actor.name} is not a person in Roster, so cannot decide requests; sign in as (or name) the approver`);
  const approverId = approver.userId;
  await writePath.run(approver.actor, async (context) => {
    const { tx, changes } = context;
    const request = await pendingRequest(tx, id, now);
    if (approverId === request.user.id || approverId === request.requesterUserId || approver.actor.name === request.requestedBy) {
      throw new RequestError(403, `Nobody approves or denies their own request: #${id} is for ${request.user.userName}, filed by ${request.requestedBy}`);
    }
    const policy = await policyWithCatalog(tx);
    const entry = catalogEntry(policy, request.entry);
    const stage = request.stage + 1;
    const stageDef = entry.stages[Math.min(stage, entry.stages.length) - 1]!;
    const subject = (await tx('users').select('resource').where({ id: request.user.id }).forNoKeyUpdate().first()) as { resource: Record<string, unknown> };
    if (!(await mayDecideStage(tx, stageDef, subject.resource, approverId))) {
      throw new RequestError(403, `Stage ${stage} of request #${id} is decided by ${describeStage(stageDef)}; you are not one of them`);
    }
    const approverRow = (await tx('users').select('resource').where({ id: approverId }).first()) as { resource: Record<string, unknown> };
    const approverName = String(approverRow.resource.userName);
    const base = { request: id, entry: entry.name, stage, of: request.stageCount, userId: request.user.id, userName: request.user.userName, approver: approverName };
    if (decision.decision === 'deny') {
      await insertDecision(tx, { requestId: id, stage, decision: 'deny', approverUserId: approverId, approverName, actor: approver.actor.name, reason });
      await closeRequest(tx, id, { status: 'denied', by: approverName, reason });
      changes.record({ action: 'request.deny', changes: base, reason: { reason } });
      return;
    }
    await refuseConflicts(tx, policy, entry, request.user.id, request.user.userName);
    await insertDecision(tx, { requestId: id, stage, decision: 'approve', approverUserId: approverId, approverName, actor: approver.actor.name, reason });
    if (stage < request.stageCount) {
      await advanceStage(tx, id, stage);
      changes.record({ action: 'request.approve', changes: base, reason: { reason } });
      await notifyStage(tx, id, stage + 1);
      return;
    }
    const until = request.requestedUntil ? new Date(request.requestedUntil) : new Date(now.getTime() + request.durationDays! * DAY_MS);
    if (until.getTime() <= now.getTime()) throw new RequestError(409, `Request #${id} asked for access until ${until.toISOString()}, which has passed; deny it and ask again`);
    await grant(context, policy, entry, request, until, approverName);
    await closeRequest(tx, id, { status: 'approved', by: approverName, reason, stage, grantedUntil: until });
    changes.record({ action: 'request.approve', changes: { ...base, granted: entry.grants.groups, until: until.toISOString() }, reason: { reason } });
  });
  return (await accessRequest(writePath.db, id))!;
}

/** The approved access as exceptions linked to the request, then the person reconciled (pushes follow from the outbox). */
async function grant(context: ChangeContext, policy: Policy, entry: CatalogEntry, request: AccessRequest, until: Date, approverName: string): Promise<void> {
  const found = await groupsByName(context.tx, entry.grants.groups);
  for (const name of entry.grants.groups) {
    const group = found.get(name.toLowerCase());
    if (!group || group.managedBy === null) throw new RequestError(409, `Group "${name}" is not a managed group in Roster yet; apply the policy first (npm run roster -- policy apply)`);
    await recordException(context, {
      userId: request.user.id,
      group,
      reason: `access request #${request.id} (${entry.name})${request.justification ? `: ${request.justification}` : ''}`,
      expiresAt: until,
      grantedBy: `request #${request.id}, approved by ${approverName}`,
      accessRequest: request.id,
    });
  }
  await reconcileUserById(context, policy, request.user.id);
}

/** The requester (or the person it is for) takes back a pending request. */
export async function withdrawRequest(writePath: WritePath, id: number, by: Party, reason?: string): Promise<AccessRequest> {
  await writePath.run(by.actor, async ({ tx, changes }) => {
    const request = await pendingRequest(tx, id, new Date());
    const own = by.actor.name === request.requestedBy || (by.userId !== undefined && (by.userId === request.requesterUserId || by.userId === request.user.id));
    if (!own) throw new RequestError(403, `Only whoever filed request #${id} (${request.requestedBy}) or ${request.user.userName} may withdraw it`);
    await closeRequest(tx, id, { status: 'withdrawn', by: by.actor.name, reason: reason?.trim() || undefined });
    changes.record({ action: 'request.withdraw', changes: { request: id, entry: request.entry, userId: request.user.id, userName: request.user.userName }, ...(reason?.trim() ? { reason: { reason: reason.trim() } } : {}) });
  });
  return (await accessRequest(writePath.db, id))!;
}

/** The expiry job: a request still undecided at its expiry closes. */
export async function expireRequest(writePath: WritePath, id: number, now = new Date()): Promise<boolean> {
  return writePath.run({ name: 'access-requests', source: 'system', requestId: `request-expire-${id}` }, async ({ tx, changes }) => {
    const request = await accessRequest(tx, id, { lock: true });
    if (!request || request.status !== 'pending' || new Date(request.expiresAt).getTime() > now.getTime()) return false;
    await closeRequest(tx, id, { status: 'expired', by: 'access-requests', reason: 'undecided at its expiry' });
    changes.record({ action: 'request.expire', changes: { request: id, entry: request.entry, stage: request.stage + 1, userId: request.user.id, userName: request.user.userName } });
    return true;
  });
}
