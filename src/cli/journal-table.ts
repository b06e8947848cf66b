/**
 * The readable table of `roster journal`: one line per entry, with the changed attributes
 * summarised as "path: before → after" so a person can scan who did what without JSON.
 */
import { pathChanges, roleChanges } from '../journal/present.js';
import type { JournalRow } from '../journal/row.js';

const MAX_CHANGES = 70;

function short(value: unknown): string {
  if (value === undefined) return '∅';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 24 ? `${text.slice(0, 23)}…` : text;
}

/** A batch entry about several users (`changes.users`): each user's part ({ value, userName, rolesAdded, rolesRemoved }). */
function usersPart(row: JournalRow): Array<Record<string, unknown>> | undefined {
  const users = (row.changes as { users?: unknown } | null)?.users;
  return Array.isArray(users) ? (users as Array<Record<string, unknown>>) : undefined;
}

/** "alice@example.com +finance -sales": one user's role changes, read as the history reads them. */
const userRoles = (user: Record<string, unknown>) =>
  `${String(user.userName ?? user.value)} ${roleChanges(user)
    .map((c) => (c.after !== undefined ? `+${String(c.after)}` : `-${String(c.before)}`))
    .join(' ')}`;

function pathParts(row: JournalRow): string[] {
  return pathChanges(row).map((c) => {
    const member = /^(members|groups)\[value eq "([^"]+)"\]$/.exec(c.path);
    if (member) return `${c.after !== undefined ? '+' : '-'}${member[1] === 'members' ? 'member' : 'group'} ${member[2]!.slice(0, 8)}`;
    if (c.path === 'password') return 'password changed';
    return `${c.path}: ${short(c.before)} → ${short(c.after)}`;
  });
}

const clipped = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

/**
 * Outbound sync's entries carry no attribute paths: a push says what went out and how it ended
 * ("PATCH /Users/8c1e… → 200 ok"), the others their gist.
 */
function syncSummary(row: JournalRow): string {
  const c = (row.changes ?? {}) as Record<string, unknown>;
  if (typeof c.method === 'string' && typeof c.path === 'string') {
    const status = typeof c.status === 'number' ? String(c.status) : '—';
    return `${c.method} ${clipped(c.path, 48)} → ${status} ${String(c.outcome ?? '')}`.trimEnd();
  }
  switch (row.action) {
    case 'sync.adopt':
      return `remote ${short(c.remoteId)}, matched on ${String(c.matchedOn)}`;
    case 'sync.reference-omitted':
      return `${String(c.attribute).replace(/^urn:.*:/, '')} left out: ${c.reason === 'out-of-scope' ? 'not in scope' : 'not on the target yet'}`;
    case 'sync.parked':
      return `${String(c.status ?? '')} ${short(c.reason)}`.trim();
    case 'sync.paused':
      return `${String(c.pending ?? '')} held by the ${String(c.reason ?? 'guard')}`;
    default:
      return '';
  }
}

export function changeSummary(row: JournalRow): string {
  if (row.action.startsWith('sync.')) {
    const summary = syncSummary(row);
    if (summary) return summary;
  }
  const users = usersPart(row);
  const parts = users
    ? users.map(userRoles)
    : pathParts(row);
  if (parts.length === 0 && row.reason !== null) return `reason: ${short(row.reason)}`;
  let text = '';
  for (let i = 0; i < parts.length; i++) {
    const next = text ? `${text}; ${parts[i]}` : parts[i]!;
    if (next.length > MAX_CHANGES) return `${text} (+${parts.length - i} more)`;
    text = next;
  }
  return text;
}

const HEADER = ['ID', 'TIME (UTC)', 'ACTOR', 'SOURCE', 'ACTION', 'RESOURCE', 'CHANGES'];

function cells(row: JournalRow): string[] {
  const users = usersPart(row);
  const resource = users && !row.resource_id ? `${users.length} users` : row.resource_type ? `${row.resource_type} ${row.resource_name ?? row.resource_id ?? ''}`.trim() : '';
  return [String(row.id), row.at.toISOString().replace('T', ' ').slice(0, 19), row.actor, row.source, row.action, resource, changeSummary(row)];
}

// Following the journal prints rows as they come, so its columns cannot be sized from the data.
const FOLLOW_WIDTHS = [8, 19, 16, 6, 14, 36, 0];

export function renderTable(rows: readonly JournalRow[], options: { follow?: boolean; header?: boolean } = {}): string {
  const body = rows.map(cells);
  const all = options.header === false ? body : [HEADER, ...body];
  // Column widths from the rows shown (capped), the last column left free.
  const widths = options.follow ? FOLLOW_WIDTHS : HEADER.map((_, i) => Math.min(40, Math.max(...all.map((r) => r[i]!.length))));
  const clip = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : clip(cell, widths[i]!))).join('  ').trimEnd()).join('\n');
}
