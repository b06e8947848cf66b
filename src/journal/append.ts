/**
 * Appends journal entries to the hash chain, inside the caller's transaction.
 *
 * The chain head (`journal_chain`) is locked FOR UPDATE first, so appends from any number of
 * processes take chain positions one transaction at a time, and the lock is held until commit:
 * the next appender reads the head this one wrote. A rolled-back transaction leaves the head as it
 * was, so positions have no gaps. The lock is taken at the very end of the write path (after the
 * work and the hooks), which keeps the serialised part short. Why a lock and not a later "sealer":
 * docs/decisions/0300-journal-hash-chain.md.
 */
import type { Knex } from 'knex';
import type { Actor, JournalEntryInput } from './entry.js';
import { hashEntry, type ChainedContent } from './hash.js';
import { lockChainHead, CHAIN_HEAD_UPDATE } from './chain-head.js';
import { resolveResourceNames, memberIdsOf } from './subjects.js';

/** undefined/null become SQL NULL; anything else is stored as jsonb and hashed as it reads back. */
function jsonValue(value: unknown): { text: string | null; value: unknown } {
  if (value === undefined || value === null) return { text: null, value: null };
  const text = JSON.stringify(value);
  return { text, value: JSON.parse(text) as unknown };
}

export async function appendJournal(tx: Knex.Transaction, actor: Actor, entries: readonly JournalEntryInput[]): Promise<void> {
  if (entries.length === 0) return;
  // The head lock only serialises appends while it is held until commit: outside a transaction it
  // would be released at once, so a caller that passed a plain connection gets one here.
  if (!(tx as { isTransaction?: boolean }).isTransaction) {
    await (tx as unknown as Knex).transaction((inner) => appendJournal(inner, actor, entries));
    return;
  }
  const names = await resolveResourceNames(tx, entries);
  const head = await lockChainHead(tx);
  let seq = head.seq;
  let prevHash = head.hash;
  const at = head.now;
  const rows = entries.map((entry, index) => {
    const before = jsonValue(entry.before);
    const after = jsonValue(entry.after);
    const changes = jsonValue(entry.changes);
    const reason = jsonValue(entry.reason);
    const memberIds = memberIdsOf(entry);
    seq += 1;
    const content: ChainedContent = {
      seq,
      at: at.toISOString(),
      actor: actor.name,
      source: actor.source,
      requestId: actor.requestId,
      action: entry.action,
      resourceType: entry.resourceType ?? null,
      resourceId: entry.resourceId?.toLowerCase() ?? null,
      resourceName: names[index] ?? null,
      memberIds,
      before: before.value,
      after: after.value,
      changes: changes.value,
      reason: reason.value,
    };
    const hash = hashEntry(content, prevHash);
    const row = {
      seq,
      prev_hash: prevHash,
      hash,
      at,
      actor: content.actor,
      source: content.source,
      request_id: content.requestId,
      action: content.action,
      resource_type: content.resourceType,
      resource_id: content.resourceId,
      resource_name: content.resourceName,
      member_ids: memberIds,
      before: before.text,
      after: after.text,
      changes: changes.text,
      reason: reason.text,
    };
    prevHash = hash;
    return row;
  });
  // One round trip for the rows and the new head.
  await tx.raw(`WITH appended AS (?) ${CHAIN_HEAD_UPDATE}`, [tx('journal').insert(rows), seq, prevHash]);
}
