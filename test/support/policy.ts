/**
 * Policy for a test server whose write path was composed with the policy hook (src/compose/write-path.ts):
 * applies the given policy text, and optionally runs a queue worker with the policy tasks (for
 * time-bound tests).
 */
import { connectionStringOf } from '../../src/db/knex.js';
import { applyPolicy } from '../../src/policy/apply.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { policyTasks } from '../../src/policy/tasks.js';
import { startWorker } from '../../src/queue/queue.js';
import type { WritePath } from '../../src/write/write-path.js';

export interface PolicyTestOptions {
  /** Policy YAML to apply; unset = no policy (the default for every other test). */
  policy?: string;
  /** Run a queue worker with the policy tasks (polling every 100 ms). */
  worker?: boolean;
}

export async function startTestPolicy(writePath: WritePath, options: PolicyTestOptions): Promise<{ stop(): Promise<void> }> {
  if (options.policy === undefined) return { stop: async () => undefined };
  await applyPolicy(writePath, parsePolicy(options.policy, 'policy.yaml'), { actor: { name: 'test-policy', source: 'policy', requestId: 'test-start' } });
  const runner = options.worker ? await startWorker(connectionStringOf(writePath.db), policyTasks(writePath), { pollInterval: 100, concurrency: 2 }) : undefined;
  return { stop: async () => void (await runner?.stop()) };
}
