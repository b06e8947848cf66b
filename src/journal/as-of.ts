/**
 * A user's access at a past moment, reconstructed from the journal alone: the user's history up to
 * that moment (history.ts) replayed in order, each `groups[value eq …]` and `roles[value eq …]`
 * change adding or removing one membership or role. Answers "what could Alice reach last week"
 * after the access is long gone. Entries removed by retention (journal purge) cannot be replayed:
 * the answer says from when the journal is complete.
 */
import type { Knex } from 'knex';
import { aboutResource, historyEntry } from './history.js';
import { readJournalPage } from './query.js';

export interface HeldAt {
  /** Group id or role name. */
  key: string;
  name: string;
  since: string;
  entryId: number;
}

export interface AccessAsOf {
  at: string;
  groups: HeldAt[];
  roles: HeldAt[];
  /** The user existed at that moment (created, and not deleted since). */
  existed: boolean;
  /** The oldest entry the journal still holds; before it the replay may be incomplete. */
  journalStartsAt: string | null;
}

const GROUP_PATH = /^groups\[value eq "([^"]+)"\]$/;
const ROLE_PATH = /^roles\[value eq "([^"]+)"\]$/;

export async function accessAsOf(db: Knex, userId: string, at: Date): Promise<AccessAsOf> {
  const groups = new Map<string, HeldAt>();
  const roles = new Map<string, HeldAt>();
  let existed = false;
  const conditions = [aboutResource('User', userId), { sql: 'j.at <= ?', bindings: [at] }];
  let after: number | undefined;
  for (;;) {
    const page = await readJournalPage(db, conditions, { order: 'oldest', after, limit: 1000 });
    for (const row of page.rows) {
      const own = row.resource_type === 'User' && row.resource_id === userId;
      if (own && row.action === 'create') existed = true;
      if (own && row.action === 'delete') {
        existed = false;
        groups.clear();
        roles.clear();
        continue;
      }
      const entry = historyEntry(row, 'User', userId);
      for (const change of entry.changes) {
        const group = GROUP_PATH.exec(change.path);
        const role = ROLE_PATH.exec(change.path);
        const target = group ? groups : role ? roles : undefined;
        const key = group?.[1] ?? role?.[1];
        if (!target || key === undefined) continue;
        if ('after' in change) {
          const name = group ? String((change.after as { display?: unknown } | null)?.display ?? key) : key;
          if (!target.has(key)) target.set(key, { key, name, since: entry.at, entryId: entry.id });
        } else target.delete(key);
      }
    }
    if (page.next === undefined) break;
    after = page.next;
  }
  const { rows } = (await db.raw(`SELECT min(at) AS at FROM journal`)) as { rows: Array<{ at: Date | null }> };
  const byName = (a: HeldAt, b: HeldAt) => a.name.localeCompare(b.name);
  return { at: at.toISOString(), groups: [...groups.values()].sort(byName), roles: [...roles.values()].sort(byName), existed, journalStartsAt: rows[0]?.at?.toISOString() ?? null };
}
