/**
 * What an operator does with an item of the ledger (issue 17, decision 0600), from the API or the
 * CLI alike:
 *  - adopt an orphan: link the remote account to a person, as a full sync adopts a matched one,
 *    and bring it to the desired state;
 *  - disable or delete an orphan on the target, under the connector's mass-change guard;
 *  - ignore an item (orphan or drift) with a reason until a date; past it, the item is open again.
 * Each action is journaled (`ledger.adopt`, `ledger.disable`, `ledger.delete`, `ledger.ignore`)
 * with the operator as the actor, through the write path; the requests sent to the target are
 * journaled as the connector's, as every push is.
 */
import { Rejected, RetryLater } from '../sync/push.js';
import type { ConnectorSet } from '../sync/connector.js';
import { AccountActionRefused, adoptRemoteUser, deprovisionRemote } from '../sync/remote-accounts.js';
import type { SyncResult } from '../sync/sync-one.js';
import type { Actor } from '../journal/entry.js';
import type { WritePath } from '../write/write-path.js';
import { forgetItem, ledgerItem, recordAction, type LedgerItem } from './ledger-store.js';

export const DEFAULT_IGNORE_DAYS = 90;
export const MAX_IGNORE_DAYS = 366;
const DAY_MS = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An action refused, with the HTTP status the API answers (the CLI prints the message). */
export class LedgerError extends Error {
  override name = 'LedgerError';
  constructor(
    readonly status: 400 | 404 | 409 | 502 | 503,
    message: string,
  ) {
    super(message);
  }
}

async function actionable(writePath: WritePath, id: string, kinds: ReadonlyArray<LedgerItem['kind']>): Promise<LedgerItem> {
  const item = await ledgerItem(writePath.db, id);
  if (!item) throw new LedgerError(404, `No ledger item ${id}`);
  if (!kinds.includes(item.kind)) throw new LedgerError(400, `Ledger item ${id} is ${item.kind === 'drift' ? 'drift on an account Roster manages; a full sync repairs it' : `an ${item.kind}`}; this action is for ${kinds.join(' or ')} items`);
  if (item.status !== 'open' && item.status !== 'ignored') throw new LedgerError(409, `Ledger item ${id} is ${item.status} already (by ${item.actedBy ?? 'a full sync'})`);
  return item;
}

function connectorOf(connectors: ConnectorSet, item: LedgerItem) {
  const connector = connectors.get(item.connector);
  if (!connector) throw new LedgerError(409, `Connector ${item.connector} is not configured in this Roster (ROSTER_CONNECTORS_FILE); nothing was sent`);
  return connector;
}

/** The target's or the guard's refusal, in the ledger's terms. A gone account leaves the ledger. */
async function translated<T>(writePath: WritePath, item: LedgerItem, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof AccountActionRefused) {
      if (error.reason === 'gone') await forgetItem(writePath.db, item.id);
      throw new LedgerError(error.reason === 'not-found' ? 404 : error.reason === 'invalid' ? 400 : 409, error.message);
    }
    if (error instanceof RetryLater) throw new LedgerError(503, `The target is unavailable (${error.message}); nothing was changed, try again later`);
    if (error instanceof Rejected) throw new LedgerError(502, `The target refused: ${error.message}`);
    throw error;
  }
}

async function userIdOf(writePath: WritePath, user: string): Promise<string> {
  const query = writePath.db('users').select('id');
  const row = (await (UUID.test(user) ? query.where({ id: user.toLowerCase() }) : query.whereRaw(`lower(resource->>'userName') = lower(?)`, [user])).first()) as { id: string } | undefined;
  if (!row) throw new LedgerError(404, `No user "${user}" (give a userName or a user id)`);
  return row.id;
}

export async function adoptOrphan(writePath: WritePath, connectors: ConnectorSet, id: string, user: string, actor: Actor): Promise<{ item: LedgerItem; userId: string; result: SyncResult }> {
  const item = await actionable(writePath, id, ['orphan']);
  if (item.resourceType !== 'User') throw new LedgerError(400, `Ledger item ${id} is a remote group; only accounts (users) can be adopted`);
  const connector = connectorOf(connectors, item);
  const userId = await userIdOf(writePath, user);
  const { result, userName } = await translated(writePath, item, () => adoptRemoteUser(writePath.db, connector, userId, item.remoteId!, actor.requestId));
  await writePath.run(actor, async ({ tx, changes }) => {
    await recordAction(tx, item.id, { status: 'adopted', actor: actor.name, resourceId: userId });
    changes.record({
      action: 'ledger.adopt',
      resourceType: 'User',
      resourceId: userId,
      ...(userName ? { resourceName: userName } : {}),
      changes: { connector: item.connector, ledgerItem: item.id, remoteId: item.remoteId, remoteName: item.name, sync: result.kind },
    });
  });
  return { item: (await ledgerItem(writePath.db, item.id))!, userId, result };
}

export async function deprovisionOrphan(
  writePath: WritePath,
  connectors: ConnectorSet,
  id: string,
  how: 'disable' | 'delete',
  actor: Actor,
  reason?: string,
): Promise<{ item: LedgerItem; sent: boolean }> {
  const item = await actionable(writePath, id, ['orphan']);
  const connector = connectorOf(connectors, item);
  const { sent } = await translated(writePath, item, () => deprovisionRemote(writePath.db, connector, { type: item.resourceType, remoteId: item.remoteId!, name: item.name }, how, actor.requestId));
  if (!sent) throw new LedgerError(409, `Connector ${item.connector} is in dry-run mode: the request was journaled (sync.dry-run) and not sent; the item stays ${item.status}`);
  await writePath.run(actor, async ({ tx, changes }) => {
    await recordAction(tx, item.id, { status: how === 'disable' ? 'disabled' : 'deleted', actor: actor.name });
    changes.record({
      action: `ledger.${how}`,
      changes: { connector: item.connector, ledgerItem: item.id, resourceType: item.resourceType, remoteId: item.remoteId, remoteName: item.name, ...(reason ? { reason } : {}) },
    });
  });
  return { item: (await ledgerItem(writePath.db, item.id))!, sent };
}

export async function ignoreItem(writePath: WritePath, id: string, options: { reason: string; until?: Date | undefined; now?: Date }, actor: Actor): Promise<LedgerItem> {
  const reason = options.reason.trim();
  if (reason.length < 3) throw new LedgerError(400, 'A reason is required: say why this item may be left alone, e.g. "service account of the backup job (CHG-7)"');
  const now = options.now ?? new Date();
  const until = options.until ?? new Date(now.getTime() + DEFAULT_IGNORE_DAYS * DAY_MS);
  if (until.getTime() <= now.getTime()) throw new LedgerError(400, `until ${until.toISOString()} is in the past`);
  if (until.getTime() > now.getTime() + MAX_IGNORE_DAYS * DAY_MS) throw new LedgerError(400, `until is more than ${MAX_IGNORE_DAYS} days away; an ignore is reviewed again at least yearly`);
  const item = await actionable(writePath, id, ['orphan', 'drift']);
  await writePath.run(actor, async ({ tx, changes }) => {
    await recordAction(tx, item.id, { status: 'ignored', actor: actor.name, ignoredReason: reason, ignoredUntil: until });
    changes.record({
      action: 'ledger.ignore',
      // No resource on the entry: the outbox would queue a sync of a drifted object, the opposite of leaving it alone.
      changes: { connector: item.connector, ledgerItem: item.id, kind: item.kind, resourceType: item.resourceType, remoteId: item.remoteId, resourceId: item.resourceId, name: item.name },
      reason: { reason, until: until.toISOString() },
    });
  });
  return (await ledgerItem(writePath.db, item.id))!;
}
