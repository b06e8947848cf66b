/**
 * `roster report access`: who holds which group and why, for access reviews, in one query. A
 * managed membership lists the held roles that grant it and any open exception; an IdP membership
 * names the actor of the journal entry that added it.
 */
import type { Knex } from 'knex';
import { rolesGranting } from './policy-file.js';
import { appliedPolicy } from './policy-state.js';

export interface AccessRow {
  group: string;
  userName: string;
  displayName: string;
  active: boolean;
  basis: 'policy' | 'exception' | 'policy+exception' | 'idp' | 'unexplained';
  detail: string;
  since: string;
}

export async function accessReport(db: Knex, options: { group?: string } = {}): Promise<AccessRow[]> {
  const policy = await appliedPolicy(db);
  const { rows } = (await db.raw(
    `SELECT g.resource->>'displayName' AS group_name, g.managed_by, u.resource->>'userName' AS user_name,
            coalesce(u.resource->>'displayName', '') AS display_name, u.resource->'active' <> 'false'::jsonb AS active, gm.added_at,
            (SELECT array_agg(role ORDER BY role) FROM policy_roles pr WHERE pr.user_id = u.id) AS roles,
            (SELECT string_agg(e.reason || ' (by ' || e.granted_by || ', until ' || to_char(e.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ')', '; ')
               FROM policy_exceptions e WHERE e.user_id = u.id AND e.group_id = g.id AND e.ended_at IS NULL AND e.expires_at > now()) AS exceptions,
            CASE WHEN g.managed_by IS NULL THEN (
              SELECT j.actor FROM journal j WHERE j.resource_type = 'Group' AND j.resource_id = g.id
                 AND j.changes->'membersAdded' @> jsonb_build_array(jsonb_build_object('value', u.id::text))
               ORDER BY j.id DESC LIMIT 1) END AS pushed_by
       FROM group_members gm
       JOIN groups g ON g.id = gm.group_id
       JOIN users u ON u.id = gm.member_id
      WHERE (?::text IS NULL OR lower(g.resource->>'displayName') = lower(?::text))
      ORDER BY lower(g.resource->>'displayName'), lower(u.resource->>'userName')`,
    [options.group ?? null, options.group ?? null],
  )) as {
    rows: Array<{ group_name: string; managed_by: string | null; user_name: string; display_name: string; active: boolean | null; added_at: Date; roles: string[] | null; exceptions: string | null; pushed_by: string | null }>;
  };
  return rows.map((r) => {
    const since = r.added_at.toISOString();
    const base = { group: r.group_name, userName: r.user_name, displayName: r.display_name, active: r.active !== false, since };
    if (!r.managed_by) return { ...base, basis: 'idp', detail: r.pushed_by ? `pushed by ${r.pushed_by}` : 'pushed (no journal entry)' };
    const held = new Set(r.roles ?? []);
    const roles = policy ? rolesGranting(policy, r.group_name).filter((role) => held.has(role.name)).map((role) => role.name) : [];
    const parts = [...(roles.length ? [`roles: ${roles.join(', ')}`] : []), ...(r.exceptions ? [`exception: ${r.exceptions}`] : [])];
    const basis = roles.length && r.exceptions ? 'policy+exception' : roles.length ? 'policy' : r.exceptions ? 'exception' : 'unexplained';
    return { ...base, basis, detail: parts.join('; ') || 'no rule or exception grants it (re-evaluated on the next change)' };
  });
}

const CSV_COLUMNS: Array<keyof AccessRow> = ['group', 'userName', 'displayName', 'active', 'basis', 'detail', 'since'];

function csvField(value: unknown): string {
  const text = String(value);
  // Quote fields with separators, and neutralise leading formula characters for spreadsheet users.
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function accessReportCsv(rows: readonly AccessRow[]): string {
  return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvField(r[c])).join(','))].join('\n') + '\n';
}

export function accessReportText(rows: readonly AccessRow[]): string {
  if (rows.length === 0) return 'No group memberships.\n';
  const lines: string[] = [];
  let group = '';
  for (const r of rows) {
    if (r.group !== group) {
      group = r.group;
      lines.push(`${group}`);
    }
    lines.push(`  ${r.userName.padEnd(36)} ${r.basis.padEnd(16)} ${r.detail}${r.active ? '' : ' [deactivated]'}`);
  }
  return lines.join('\n') + '\n';
}
