/**
 * The policy as a write-path hook: after any work that created, changed or deleted users, and
 * before the journal is appended, each such user's roles and managed memberships are recomputed in
 * the same transaction (all users of the change set with one read of their state and set-wise
 * writes). The composition root (src/compose/write-path.ts) puts it before hooks that act on the recorded
 * changes (the outbound outbox), so they see the memberships the policy granted or revoked.
 */
import type { Knex } from 'knex';
import type { Actor, JournalEntryInput } from '../journal/entry.js';
import type { ChangeHook, ChangeSet, HookedChange } from '../write/write-path.js';
import { policyForVersion } from './policy-state.js';
import { reconcileChanges } from './reconcile-user.js';
import { loadUserPolicyStates } from './user-state.js';

const USER_WRITES = new Set(['create', 'replace', 'update', 'delete']);

/** The last state of each user written in a change set, by id (undefined: deleted). */
type WrittenUsers = Map<string, Record<string, unknown> | undefined>;

interface UsersOfChange {
  change: HookedChange;
  users: WrittenUsers;
}

function writtenUsers(entries: readonly JournalEntryInput[]): WrittenUsers {
  const users: WrittenUsers = new Map();
  for (const entry of entries) {
    if (entry.resourceType !== 'User' || !entry.resourceId || !USER_WRITES.has(entry.action)) continue;
    users.set(entry.resourceId, entry.action === 'delete' ? undefined : (entry.after as Record<string, unknown> | undefined));
  }
  return users;
}

/**
 * The changes of one transaction (a shared commit's, decision 0708, or one change's) in runs whose
 * users are distinct: a run's users are read once, before any of its writes, so a user written by
 * two changes waits for the next run, which reads what the first one wrote.
 */
function runsOfDistinctUsers(changes: readonly HookedChange[]): UsersOfChange[][] {
  const runs: UsersOfChange[][] = [];
  let run: UsersOfChange[] = [];
  let seen = new Set<string>();
  for (const change of changes) {
    const users = writtenUsers(change.changes.entries);
    if (users.size === 0) continue;
    if ([...users.keys()].some((id) => seen.has(id.toLowerCase()))) {
      runs.push(run);
      run = [];
      seen = new Set();
    }
    run.push({ change, users });
    for (const id of users.keys()) seen.add(id.toLowerCase());
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

async function reconcileWrittenUsers(tx: Knex.Transaction, changes: readonly HookedChange[]): Promise<void> {
  const runs = runsOfDistinctUsers(changes);
  for (const [index, run] of runs.entries()) {
    // One statement reads the state of every user of the run (and the policy version in force).
    const states = await loadUserPolicyStates(tx, run.flatMap(({ users }) => [...users.keys()]));
    if (!states.policyVersion) return; // no policy applied yet: nothing is managed
    const policy = await policyForVersion(tx, states.policyVersion);
    if (!policy) return;
    await reconcileChanges(
      tx,
      policy,
      run.map(({ change, users }) => ({
        context: { tx, changes: change.changes, actor: change.actor },
        users: [...users].map(([userId, document]) => ({ userId, document, state: states.users.get(userId)! })),
      })),
      new Date(),
      // Nothing else in the hook reads the last run's writes; the write path waits for them
      // before the next hook. An earlier run's writes are read by the next run's state.
      { deferWrites: index === runs.length - 1 },
    );
  }
}

export const policyHook: ChangeHook = Object.assign((tx: Knex.Transaction, changes: ChangeSet, actor: Actor) => reconcileWrittenUsers(tx, [{ changes, actor }]), {
  many: reconcileWrittenUsers,
});
