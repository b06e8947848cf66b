/**
 * Why a user is in each of their groups: for a managed group, the rules (role, filter, the user's
 * attribute values now, since when the role is held) and exception grants behind it; for a group
 * the IdP pushed, who added the user. Each membership names the journal entry that added it.
 * Used by `roster explain <userName>` and GET /ops/users/{id}/access.
 */
import type { Knex } from 'knex';
import { isResourceId } from '../store/rows.js';
import { attributeEvidence } from './evaluate.js';
import { rolesGranting } from './policy-file.js';
import { appliedPolicy } from './policy-state.js';

export type AccessBasis =
  | { kind: 'rule'; role: string; when: string; attributes: Record<string, unknown>; roleSince: string | null }
  | { kind: 'exception'; exception: string; reason: string; grantedBy: string; grantedAt: string; expiresAt: string; /** The access request whose approval granted it, if any. */ accessRequest: number | null }
  | { kind: 'pushed'; actor: string | null; source: string | null };

export interface AccessEntry {
  group: { id: string; displayName: string; managedBy: string | null };
  /** When the membership row was written. */
  since: string;
  because: AccessBasis[];
  /** The journal entry that added the user to the group, if any was written. */
  journalEntry: { id: number; at: string; actor: string; source: string; action: string } | null;
}

export interface AccessExplanation {
  user: { id: string; userName: string; active: boolean };
  policyVersion: string | null;
  roles: Array<{ role: string; since: string }>;
  groups: AccessEntry[];
  violations: Array<{ conflict: string[]; since: string }>;
}

const iso = (value: Date | string | null | undefined) => (value ? new Date(value).toISOString() : null);

export async function findUserIdByName(db: Knex, userName: string): Promise<string | undefined> {
  const row = (await db('users').select('id').whereRaw(`lower(resource->>'userName') = lower(?)`, [userName]).first()) as { id: string } | undefined;
  return row?.id;
}

export async function explainAccess(db: Knex, userId: string): Promise<AccessExplanation | undefined> {
  if (!isResourceId(userId)) return undefined;
  const user = (await db('users').select('id', 'resource').where({ id: userId }).first()) as { id: string; resource: Record<string, unknown> } | undefined;
  if (!user) return undefined;
  const [policy, memberships, roles, exceptions, violations] = await Promise.all([
    appliedPolicy(db),
    db.raw(
      // The entries that added this user to any group, found through member_ids (a handful per
      // user), not by walking each group's entries: a group of 100,000 has 100,000 of those.
      `WITH added AS MATERIALIZED (
         SELECT id, at, actor, source, action, resource_id FROM journal
          WHERE member_ids @> ARRAY[?::uuid] AND resource_type = 'Group'
            AND changes->'membersAdded' @> jsonb_build_array(jsonb_build_object('value', ?::text)))
       SELECT g.id, g.resource->>'displayName' AS name, g.managed_by, gm.added_at, j.id AS journal_id, j.at, j.actor, j.source, j.action
         FROM group_members gm JOIN groups g ON g.id = gm.group_id
         LEFT JOIN LATERAL (SELECT * FROM added a WHERE a.resource_id = g.id ORDER BY a.id DESC LIMIT 1) j ON true
        WHERE gm.member_id = ?
        ORDER BY lower(g.resource->>'displayName')`,
      [userId, userId, userId],
    ) as Promise<{ rows: Array<{ id: string; name: string; managed_by: string | null; added_at: Date; journal_id: number | null; at: Date | null; actor: string | null; source: string | null; action: string | null }> }>,
    db('policy_roles').select('role', 'granted_at').where({ user_id: userId }).orderBy('role') as Promise<Array<{ role: string; granted_at: Date }>>,
    db('policy_exceptions').select('*').where({ user_id: userId }).whereNull('ended_at').where('expires_at', '>', new Date()) as Promise<
      Array<{ id: string; group_id: string; reason: string; granted_by: string; granted_at: Date; expires_at: Date; request_id: string | null }>
    >,
    db('policy_violations').select('conflict', 'since').where({ user_id: userId }) as Promise<Array<{ conflict: string; since: Date }>>,
  ]);
  const held = new Map(roles.map((r) => [r.role, r.granted_at]));
  const groups: AccessEntry[] = memberships.rows.map((m) => {
    const because: AccessBasis[] = [];
    if (m.managed_by) {
      for (const role of policy ? rolesGranting(policy, m.name) : []) {
        if (!held.has(role.name)) continue;
        because.push({ kind: 'rule', role: role.name, when: role.when, attributes: attributeEvidence(role, user.resource), roleSince: iso(held.get(role.name)) });
      }
      for (const e of exceptions.filter((x) => x.group_id === m.id)) {
        because.push({ kind: 'exception', exception: e.id, reason: e.reason, grantedBy: e.granted_by, grantedAt: iso(e.granted_at)!, expiresAt: iso(e.expires_at)!, accessRequest: e.request_id === null ? null : Number(e.request_id) });
      }
    } else {
      because.push({ kind: 'pushed', actor: m.actor, source: m.source });
    }
    return {
      group: { id: m.id, displayName: m.name, managedBy: m.managed_by },
      since: iso(m.added_at)!,
      because,
      journalEntry: m.journal_id ? { id: m.journal_id, at: iso(m.at)!, actor: m.actor!, source: m.source!, action: m.action! } : null,
    };
  });
  return {
    user: { id: user.id, userName: String(user.resource.userName), active: user.resource.active !== false },
    policyVersion: policy?.version ?? null,
    roles: roles.map((r) => ({ role: r.role, since: iso(r.granted_at)! })),
    groups,
    violations: violations.map((v) => ({ conflict: v.conflict.split('+'), since: iso(v.since)! })),
  };
}

/** The explanation as text, one group per paragraph, for the CLI. */
export function renderExplanation(x: AccessExplanation): string {
  const lines = [`${x.user.userName} (${x.user.id})${x.user.active ? '' : ' — deactivated'}`];
  lines.push(`  policy version: ${x.policyVersion ?? 'none applied'}; roles: ${x.roles.length ? x.roles.map((r) => `${r.role} (since ${r.since})`).join(', ') : 'none'}`);
  if (x.groups.length === 0) lines.push('  no group memberships');
  for (const g of x.groups) {
    lines.push(`  ${g.group.displayName}${g.group.managedBy ? ` [managed by policy ${g.group.managedBy}]` : ''} — member since ${g.since}`);
    for (const b of g.because) {
      if (b.kind === 'rule') {
        const values = Object.entries(b.attributes).map(([k, v]) => `${k.replace(/^urn:ietf:params:scim:schemas:extension:[^:]+:2\.0:User:/, '')}=${JSON.stringify(v)}`);
        lines.push(`    rule ${b.role}: ${b.when}`, `      because ${values.join(', ')}; role held since ${b.roleSince}`);
      } else if (b.kind === 'exception') {
        lines.push(`    exception ${b.exception} by ${b.grantedBy} on ${b.grantedAt}, expires ${b.expiresAt}: "${b.reason}"`);
      } else {
        lines.push(`    pushed by ${b.actor ?? 'unknown (no journal entry)'}${b.source ? ` via ${b.source}` : ''}`);
      }
    }
    if (g.group.managedBy && g.because.length === 0) lines.push('    no rule or exception grants it any more; the next evaluation removes it');
    lines.push(g.journalEntry ? `    journal entry #${g.journalEntry.id} at ${g.journalEntry.at} (${g.journalEntry.action} by ${g.journalEntry.actor}, ${g.journalEntry.source})` : '    journal entry: none found');
  }
  for (const v of x.violations) lines.push(`  separation-of-duties conflict ${v.conflict.join(' / ')} since ${v.since}`);
  return lines.join('\n');
}
