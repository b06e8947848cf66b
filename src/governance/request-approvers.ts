/**
 * Who may decide a stage of an access request, from the catalog entry's stage: the manager of the
 * person the access is for (enterprise extension manager.value: a Roster user id, or an
 * externalId / userName as some HR feeds send), named owners by userName, and members of an
 * approver group. Used to check a decision and to address notifications.
 */
import type { Knex } from 'knex';
import type { ApprovalStage } from '../policy/catalog.js';
import { ENTERPRISE_USER_SCHEMA } from '../scim/schema/urns.js';

export interface Approver {
  userId: string;
  userName: string;
  email: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Enough addresses for a notification; a larger approver group is told through its first ones and the webhook. */
const MAX_NOTIFIED = 50;

/** The reference in the person's manager attribute, as written. */
export function managerReference(document: Record<string, unknown>): string | undefined {
  const enterprise = document[ENTERPRISE_USER_SCHEMA] as { manager?: { value?: unknown } } | undefined;
  const value = enterprise?.manager?.value;
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

interface UserRow {
  id: string;
  resource: Record<string, unknown>;
}

/** A person's userName and the address to write to: the primary email, else the first, else a userName that is an address. */
export function approverOf(row: UserRow): Approver {
  const emails = Array.isArray(row.resource.emails) ? (row.resource.emails as Array<{ value?: unknown; primary?: unknown }>) : [];
  const email = (emails.find((e) => e.primary === true) ?? emails[0])?.value;
  const userName = String(row.resource.userName);
  return { userId: row.id, userName, email: typeof email === 'string' ? email : userName.includes('@') ? userName : undefined };
}

async function managerOf(db: Knex | Knex.Transaction, document: Record<string, unknown>): Promise<UserRow | undefined> {
  const reference = managerReference(document);
  if (!reference) return undefined;
  const query = db('users').select('id', 'resource');
  return (await (UUID.test(reference)
    ? query.where({ id: reference.toLowerCase() })
    : query.whereRaw(`resource->>'externalId' = ? OR lower(resource->>'userName') = lower(?)`, [reference, reference])
  ).first()) as UserRow | undefined;
}

/** The people who may decide `stage` for the person whose document is given (at most MAX_NOTIFIED from a group). */
export async function stageApprovers(db: Knex | Knex.Transaction, stage: ApprovalStage, subject: Record<string, unknown>): Promise<Approver[]> {
  const rows: UserRow[] = [];
  if (stage.manager) {
    const manager = await managerOf(db, subject);
    if (manager) rows.push(manager);
  }
  if (stage.owners.length) {
    rows.push(...((await db('users').select('id', 'resource').whereRaw(`lower(resource->>'userName') = ANY(?::text[])`, [stage.owners.map((o) => o.toLowerCase())])) as UserRow[]));
  }
  if (stage.group) {
    const { rows: members } = (await db.raw(
      `SELECT u.id, u.resource FROM groups g JOIN group_members gm ON gm.group_id = g.id JOIN users u ON u.id = gm.member_id
        WHERE lower(g.resource->>'displayName') = lower(?) AND u.resource->>'active' IS DISTINCT FROM 'false'
        ORDER BY u.id LIMIT ?`,
      [stage.group, MAX_NOTIFIED],
    )) as { rows: UserRow[] };
    rows.push(...members);
  }
  return [...new Map(rows.map((r) => [r.id, approverOf(r)])).values()];
}

/** What decides whether a person approves a stage: who they are and which groups they are in. */
export interface ApproverProfile {
  userId: string;
  userName: string;
  externalId: string | undefined;
  /** Lower-cased displayNames of the groups they are a member of. */
  groups: Set<string>;
}

export async function approverProfile(db: Knex | Knex.Transaction, userId: string): Promise<ApproverProfile | undefined> {
  const row = (await db('users').select('resource').where({ id: userId }).first()) as { resource: Record<string, unknown> } | undefined;
  if (!row) return undefined;
  const { rows } = (await db.raw(`SELECT lower(g.resource->>'displayName') AS name FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE gm.member_id = ?`, [userId])) as { rows: Array<{ name: string }> };
  const externalId = row.resource.externalId;
  return { userId, userName: String(row.resource.userName), externalId: typeof externalId === 'string' ? externalId : undefined, groups: new Set(rows.map((r) => r.name)) };
}

/**
 * Whether the person decides `stage` for the person whose document is given, in memory (the
 * inbox checks every pending request this way). The manager reference is matched as managerOf
 * resolves it: the id, else the externalId or the userName.
 */
export function decidesStage(stage: ApprovalStage, subject: Record<string, unknown>, me: ApproverProfile): boolean {
  if (stage.manager) {
    const reference = managerReference(subject);
    if (reference && (UUID.test(reference) ? reference.toLowerCase() === me.userId : reference === me.externalId || reference.toLowerCase() === me.userName.toLowerCase())) return true;
  }
  if (stage.owners.some((o) => o.toLowerCase() === me.userName.toLowerCase())) return true;
  return stage.group !== undefined && me.groups.has(stage.group.toLowerCase());
}

/** Whether user `userId` may decide `stage` for the person whose document is given. */
export async function mayDecideStage(db: Knex | Knex.Transaction, stage: ApprovalStage, subject: Record<string, unknown>, userId: string): Promise<boolean> {
  const me = await approverProfile(db, userId);
  return me !== undefined && decidesStage(stage, subject, me);
}
