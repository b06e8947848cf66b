/** Text rendering of a policy plan for the terminal (`policy plan`, `policy apply`). */
import type { Plan, PlanLine } from '../policy/plan.js';
import { revokeLimit } from '../policy/apply.js';

function sample(names: string[], total: number): string {
  if (total === 0) return '';
  return names.join(', ') + (total > names.length ? ` and ${total - names.length} more` : '');
}

function lines(title: string, items: PlanLine[]): string[] {
  const width = Math.max(12, ...items.map((i) => i.name.length));
  const out = [title];
  for (const item of items) {
    const head = `  ${item.name.padEnd(width)}  +${String(item.gains).padEnd(6)} -${String(item.losses).padEnd(6)}`;
    const detail = [item.gains ? `gain: ${sample(item.gainSample, item.gains)}` : '', item.losses ? `lose: ${sample(item.lossSample, item.losses)}` : ''].filter(Boolean).join('; ');
    out.push(detail ? `${head} ${detail}` : `${head} no change`);
  }
  return out;
}

export function renderPlan(plan: Plan, maxRevoke?: number): string {
  const limit = revokeLimit(plan.totalUsers, maxRevoke);
  const out = [
    `Policy ${plan.policyFile}, version ${plan.policyVersion} (in force now: ${plan.appliedVersion ?? 'none'}), against ${plan.totalUsers} users`,
    '',
    ...lines('Roles                gains   losses', plan.roles),
    '',
    ...lines('Groups               gains   losses', plan.groups),
  ];
  if (plan.violations.length) {
    out.push('', `Separation-of-duties conflicts (${plan.onConflict === 'keep-first' ? 'the role granted first is kept' : 'reported only: users keep both'})`);
    for (const v of plan.violations) out.push(`  ${v.conflict.replace('+', ' / ')}: ${v.users} user(s): ${sample(v.sample, v.users)}`);
  }
  out.push('');
  if (plan.usersChanging === 0) out.push('No changes: applying this policy would change nothing.');
  else {
    out.push(`${plan.usersChanging} user(s) would change; ${plan.usersLosingAccess} would lose access (apply allows ${limit}${maxRevoke === undefined ? ', 10% of users' : ''}).`);
    if (plan.usersLosingAccess > limit) out.push('`policy apply` would refuse: review the losses, then use --max-revoke N or --force.');
  }
  return out.join('\n') + '\n';
}
