/**
 * The policy as a write-path hook: after any work that created, changed or deleted users, and
 * before the journal is appended, each such user's roles and managed memberships are recomputed in
 * the same transaction (all users of the change set with one read of their state and set-wise
 * writes). The composition root (src/compose/write-path.ts) puts it before hooks that act on the recorded
 * changes (the outbound outbox), so they see the memberships the policy granted or revoked.
 */
import type { JournalEntryInput } from '../journal/entry.js';
import type { ChangeHook } from '../write/write-path.js';
import { policyForVersion } from './policy-state.js';
import { reconcileUsers } from './reconcile-user.js';
import { loadUserPolicyStates } from './user-state.js';

const USER_WRITES = new Set(['create', 'replace', 'update', 'delete']);

/** The last state of each user written in this change set (undefined: deleted). */
function writtenUsers(entries: readonly JournalEntryInput[]): Map<string, Record<string, unknown> | undefined> {
  const users = new Map<string, Record<string, unknown> | undefined>();
  for (const entry of entries) {
    if (entry.resourceType !== 'User' || !entry.resourceId || !USER_WRITES.has(entry.action)) continue;
    users.set(entry.resourceId, entry.action === 'delete' ? undefined : (entry.after as Record<string, unknown> | undefined));
  }
  return users;
}

export const policyHook: ChangeHook = async (tx, changes, actor) => {
  const users = writtenUsers(changes.entries);
  if (users.size === 0) return;
  // One statement reads the state of every user written (and the policy version in force).
  const states = await loadUserPolicyStates(tx, [...users.keys()]);
  if (!states.policyVersion) return; // no policy applied yet: nothing is managed
  const policy = await policyForVersion(tx, states.policyVersion);
  if (!policy) return;
  await reconcileUsers(
    { tx, changes, actor },
    policy,
    [...users].map(([userId, document]) => ({ userId, document, state: states.users.get(userId)! })),
    new Date(),
    // Nothing else in the hook reads them; the write path waits for them before the next hook.
    { deferWrites: true },
  );
};
