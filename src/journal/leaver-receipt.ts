/**
 * A leaver's receipt, from the journal: the change that deactivated the user (an HR import, an
 * IdP, an operator: its actor, source, request id and the attribute changes that came with it),
 * then everything that followed from it: each group membership and role removed, and each
 * connector's push of the user with its answer and time. Evidence for "when did Bob lose access
 * everywhere?", exportable as JSON.
 */
import type { Knex } from 'knex';
import type { AttributeChange } from '../lib/document-diff.js';
import { aboutResource, historyEntry } from './history.js';
import { readJournalPage } from './query.js';

export interface ReceiptStep {
  entryId: number;
  at: string;
  actor: string;
  source: string;
  requestId: string | null;
  action: string;
}

export interface LeaverReceipt {
  user: { id: string; userName: string | null };
  /** The entry that set active to false; null while the user is not (or no longer) deactivated. */
  deactivation: (ReceiptStep & { changes: AttributeChange[] }) | null;
  membershipsRemoved: Array<ReceiptStep & { groupId: string; group: string }>;
  rolesRemoved: Array<ReceiptStep & { role: string }>;
  pushes: Array<ReceiptStep & { connector: string; method: string | null; path: string | null; status: number | null; outcome: string | null; latencyMs: number | null }>;
}

const GROUP_PATH = /^groups\[value eq "([^"]+)"\]$/;
const ROLE_PATH = /^roles\[value eq "([^"]+)"\]$/;

export async function leaverReceipt(db: Knex, userId: string): Promise<LeaverReceipt> {
  const receipt: LeaverReceipt = { user: { id: userId, userName: null }, deactivation: null, membershipsRemoved: [], rolesRemoved: [], pushes: [] };
  let after: number | undefined;
  for (;;) {
    const page = await readJournalPage(db, [aboutResource('User', userId)], { order: 'oldest', after, limit: 1000 });
    for (const row of page.rows) {
      const own = row.resource_type === 'User' && row.resource_id === userId;
      const entry = historyEntry(row, 'User', userId);
      const step: ReceiptStep = { entryId: entry.id, at: entry.at, actor: entry.actor, source: entry.source, requestId: entry.requestId, action: entry.action };
      if (own && row.resource_name) receipt.user.userName = row.resource_name;
      const active = own ? entry.changes.find((c) => c.path === 'active') : undefined;
      if (active && 'after' in active) {
        // Deactivated (again): the receipt starts here. Reactivated: no receipt until the next deactivation.
        const deactivated = active.after === false;
        receipt.deactivation = deactivated ? { ...step, changes: entry.changes } : null;
        receipt.membershipsRemoved = [];
        receipt.rolesRemoved = [];
        receipt.pushes = [];
        if (deactivated) continue;
      }
      if (!receipt.deactivation) continue;
      for (const change of entry.changes) {
        if (!('before' in change) || 'after' in change) continue;
        const group = GROUP_PATH.exec(change.path);
        if (group) receipt.membershipsRemoved.push({ ...step, groupId: group[1]!, group: String((change.before as { display?: unknown } | null)?.display ?? group[1]) });
        const role = ROLE_PATH.exec(change.path);
        if (role) receipt.rolesRemoved.push({ ...step, role: role[1]! });
      }
      if (own && row.action === 'sync.push') {
        const c = (row.changes ?? {}) as Record<string, unknown>;
        const text = (v: unknown) => (typeof v === 'string' ? v : null);
        const num = (v: unknown) => (typeof v === 'number' ? v : null);
        receipt.pushes.push({ ...step, connector: String(c.connector ?? ''), method: text(c.method), path: text(c.path), status: num(c.status), outcome: text(c.outcome), latencyMs: num(c.latencyMs) });
      }
    }
    if (page.next === undefined) break;
    after = page.next;
  }
  return receipt;
}
