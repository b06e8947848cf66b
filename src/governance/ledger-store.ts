/**
 * The ledger of orphaned and drifting downstream accounts (table governance_ledger, decision 0600):
 * the only module that writes it. A full sync hands over what it found (`ledgerRecorder`); the
 * rows are upserted set-wise, a thousand per statement, and the connector's rows the run did not
 * see are removed, so an item stays exactly until it is resolved or no longer seen. Operators'
 * actions set the status (ledger-actions.ts). An ignore ends by itself: past its date the item reads
 * as open again, and the next sync that sees it stores it so.
 */
import type { Knex } from 'knex';
import type { FindingsRecorder, FullSyncFindings } from '../sync/full-sync.js';
import type { ResourceType } from '../sync/connector.js';

export const LEDGER_KINDS = ['orphan', 'drift'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];
export const LEDGER_STATUSES = ['open', 'ignored', 'adopted', 'disabled', 'deleted', 'repaired'] as const;
export type LedgerStatus = (typeof LEDGER_STATUSES)[number];

export interface LedgerItem {
  id: string;
  connector: string;
  kind: LedgerKind;
  resourceType: ResourceType;
  remoteId: string | null;
  resourceId: string | null;
  name: string;
  details: Record<string, unknown>;
  status: LedgerStatus;
  firstSeenAt: string;
  lastSeenAt: string;
  ignoredReason: string | null;
  ignoredUntil: string | null;
  actedBy: string | null;
  actedAt: string | null;
}

/** An ignore whose date has passed reads as open. */
const STATUS_SQL = `CASE WHEN status = 'ignored' AND ignored_until <= now() THEN 'open' ELSE status END`;

const COLUMNS = `id::text AS id, connector, kind, resource_type, remote_id, resource_id::text AS resource_id, name, details,
  ${STATUS_SQL} AS status, first_seen_at, last_seen_at, ignored_reason, ignored_until, acted_by, acted_at`;

interface Row {
  id: string;
  connector: string;
  kind: LedgerKind;
  resource_type: ResourceType;
  remote_id: string | null;
  resource_id: string | null;
  name: string;
  details: Record<string, unknown>;
  status: LedgerStatus;
  first_seen_at: Date;
  last_seen_at: Date;
  ignored_reason: string | null;
  ignored_until: Date | null;
  acted_by: string | null;
  acted_at: Date | null;
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function toItem(row: Row): LedgerItem {
  return {
    id: row.id,
    connector: row.connector,
    kind: row.kind,
    resourceType: row.resource_type,
    remoteId: row.remote_id,
    resourceId: row.resource_id,
    name: row.name,
    details: row.details,
    status: row.status,
    firstSeenAt: row.first_seen_at.toISOString(),
    lastSeenAt: row.last_seen_at.toISOString(),
    ignoredReason: row.status === 'ignored' ? row.ignored_reason : null,
    ignoredUntil: row.status === 'ignored' ? iso(row.ignored_until) : null,
    actedBy: row.acted_by,
    actedAt: iso(row.acted_at),
  };
}

const CHUNK = 1000;

/**
 * What a run saw, as rows. An item seen again keeps its status unless what it says no longer holds:
 * an expired ignore, an adopted or deleted account that is an orphan again, a disabled one that is
 * active again, a repaired drift that is back all return to open. Drift an applying run repairs is
 * stored as repaired.
 */
async function upsert(tx: Knex.Transaction, findings: FullSyncFindings): Promise<void> {
  const rows = [
    ...findings.orphans.map((o) => ({ kind: 'orphan', type: o.type, key: o.remoteId, remote: o.remoteId, local: null, name: o.name, details: o.summary })),
    ...findings.drift.map((d) => {
      const { type, id, name, remoteId, ...details } = d;
      return { kind: 'drift', type, key: `${id}:${d.kind}`, remote: remoteId ?? null, local: id, name, details };
    }),
  ];
  const fresh = findings.mode === 'apply' ? 'repaired' : 'open';
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    await tx.raw(
      `INSERT INTO governance_ledger AS g (connector, kind, resource_type, item_key, remote_id, resource_id, name, details, status, seen_by)
       SELECT ?, r.kind, r.type, r.key, r.remote, r.local, r.name, r.details,
              CASE WHEN r.kind = 'drift' THEN ? ELSE 'open' END, ?
         FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::uuid[], ?::text[], ?::jsonb[]) AS r(kind, type, key, remote, local, name, details)
       ON CONFLICT (connector, kind, resource_type, item_key) DO UPDATE SET
         remote_id = EXCLUDED.remote_id, name = EXCLUDED.name, details = EXCLUDED.details,
         last_seen_at = now(), seen_by = EXCLUDED.seen_by,
         status = CASE
           WHEN g.kind = 'drift' THEN CASE WHEN g.status = 'ignored' AND g.ignored_until > now() THEN 'ignored' ELSE EXCLUDED.status END
           WHEN g.status = 'ignored' AND g.ignored_until <= now() THEN 'open'
           WHEN g.status IN ('adopted', 'deleted') THEN 'open'
           WHEN g.status = 'disabled' AND (EXCLUDED.details->>'active')::boolean IS NOT FALSE THEN 'open'
           ELSE g.status END`,
      [
        findings.connector,
        fresh,
        findings.runId,
        chunk.map((r) => r.kind),
        chunk.map((r) => r.type),
        chunk.map((r) => r.key),
        chunk.map((r) => r.remote),
        chunk.map((r) => r.local),
        chunk.map((r) => r.name),
        chunk.map((r) => JSON.stringify(r.details)),
      ] as Knex.RawBinding[],
    );
  }
  // Not seen by this run: gone from the target, managed now, or no longer drifting. Orphans of a
  // type the run did not list (groups, on a connector without groups) are kept.
  await tx.raw(
    `DELETE FROM governance_ledger WHERE connector = ? AND seen_by <> ? AND (kind = 'drift' OR resource_type = ANY(?::text[]))`,
    [findings.connector, findings.runId, findings.listed],
  );
}

/** The full sync's findings into the ledger, in one transaction. */
export const ledgerRecorder: FindingsRecorder = {
  async record(db, findings) {
    await db.transaction((tx) => upsert(tx, findings));
  },
};

export interface LedgerFilter {
  connector?: string | undefined;
  kind?: LedgerKind | undefined;
  resourceType?: ResourceType | undefined;
  status?: LedgerStatus | undefined;
  /** Part of the name, any case. */
  name?: string | undefined;
}

/** One page of the ledger, oldest item first; `after` is the last id of the previous page. */
export async function listLedger(db: Knex, filter: LedgerFilter, page: { after?: string | undefined; limit: number }): Promise<{ items: LedgerItem[]; next: string | undefined }> {
  const where: string[] = [];
  const bindings: Knex.RawBinding[] = [];
  const add = (sql: string, value: Knex.RawBinding) => {
    where.push(sql);
    bindings.push(value);
  };
  if (filter.connector) add('connector = ?', filter.connector);
  if (filter.kind) add('kind = ?', filter.kind);
  if (filter.resourceType) add('resource_type = ?', filter.resourceType);
  if (filter.status) add(`${STATUS_SQL} = ?`, filter.status);
  if (filter.name) add(`strpos(lower(name), lower(?)) > 0`, filter.name);
  if (page.after) add('id > ?::bigint', page.after);
  const { rows } = (await db.raw(
    `SELECT ${COLUMNS} FROM governance_ledger ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY governance_ledger.id LIMIT ?`,
    [...bindings, page.limit + 1],
  )) as { rows: Row[] };
  const items = rows.slice(0, page.limit).map(toItem);
  return { items, next: rows.length > page.limit ? items[items.length - 1]!.id : undefined };
}

/** One item, optionally locked for the caller's transaction. */
export async function ledgerItem(db: Knex, id: string, options: { forUpdate?: boolean } = {}): Promise<LedgerItem | undefined> {
  if (!/^\d{1,18}$/.test(id)) return undefined;
  const { rows } = (await db.raw(`SELECT ${COLUMNS} FROM governance_ledger WHERE id = ?::bigint ${options.forUpdate ? 'FOR UPDATE' : ''}`, [id])) as { rows: Row[] };
  return rows[0] ? toItem(rows[0]) : undefined;
}

/** Counts per connector, kind and status, for the CLI's summary line. */
export async function ledgerCounts(db: Knex, connector?: string): Promise<Array<{ connector: string; kind: LedgerKind; status: LedgerStatus; count: number }>> {
  const { rows } = (await db.raw(
    `SELECT connector, kind, ${STATUS_SQL} AS status, count(*)::int AS count FROM governance_ledger ${connector ? 'WHERE connector = ?' : ''}
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    connector ? [connector] : [],
  )) as { rows: Array<{ connector: string; kind: LedgerKind; status: LedgerStatus; count: number }> };
  return rows;
}

export interface ActionRecord {
  status: 'ignored' | 'adopted' | 'disabled' | 'deleted';
  actor: string;
  resourceId?: string | undefined;
  ignoredReason?: string | undefined;
  ignoredUntil?: Date | undefined;
}

/** Stores an operator's action on the item (inside the action's write-path transaction). */
export async function recordAction(tx: Knex.Transaction, id: string, action: ActionRecord): Promise<void> {
  await tx('governance_ledger')
    .where({ id })
    .update({
      status: action.status,
      acted_by: action.actor,
      acted_at: tx.fn.now(),
      ...(action.resourceId ? { resource_id: action.resourceId } : {}),
      ignored_reason: action.ignoredReason ?? null,
      ignored_until: action.ignoredUntil ?? null,
    });
}

/** The account is gone from the target (found while acting on it): the item is no longer seen. */
export async function forgetItem(db: Knex, id: string): Promise<void> {
  await db('governance_ledger').where({ id }).delete();
}
