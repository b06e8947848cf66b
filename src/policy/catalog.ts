/**
 * The catalog of requestable access, declared in the policy file next to the rules (issue 17):
 * what can be requested (a managed group, or a role's groups), by whom (a SCIM filter over the
 * requester), who approves in which stages (the requester's manager, named owners, members of a
 * group), the longest duration, whether a justification is required, and the separation-of-duties
 * conflicts that apply (the policy's `conflicts` for the roles granting the access, plus any the
 * entry names). policy-file.ts checks it with the rest of the file, so a bad entry stops start-up
 * with the file's other problems, each naming the entry.
 */
import { z } from 'zod';
import type { FilterNode } from '../scim/filter/ast.js';

export const DEFAULT_MAX_DAYS = 90;
export const LONGEST_MAX_DAYS = 366;

/** One approval stage: anyone it names may decide it; stages are decided in order. */
export interface ApprovalStage {
  /** The requester's manager (enterprise extension manager.value). */
  manager: boolean;
  /** userNames of named owners. */
  owners: string[];
  /** displayName of a group whose members approve. */
  group?: string;
}

export interface CatalogEntry {
  name: string;
  description?: string;
  /** What an approval grants, as managed group names (a role entry: the role's groups). */
  grants: { role?: string; groups: string[] };
  /** Who may request it; undefined: every active person. */
  requesters?: { when: string; filter: FilterNode };
  stages: ApprovalStage[];
  maxDays: number;
  justificationRequired: boolean;
  /** Roles that must not be held by whoever gets this access. */
  conflictsWith: string[];
}

const stageSchema = z
  .object({
    manager: z.literal(true, { message: 'write manager: true, or leave it out' }).optional(),
    owners: z.array(z.string().trim().min(1).max(256)).min(1, 'name at least one owner by userName').optional(),
    group: z.string().trim().min(1).max(256).optional(),
  })
  .strict()
  .refine((s) => s.manager || s.owners || s.group, { message: 'a stage names its approvers: manager: true, owners: [userName, …] and/or group: "Group name"' });

export const catalogEntrySchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit'),
    description: z.string().optional(),
    role: z.string().trim().min(1).optional(),
    group: z.string().trim().min(1).max(256).optional(),
    requesters: z.string().trim().min(1).optional(),
    approvers: z.array(stageSchema).min(1, 'name at least one approval stage'),
    maxDays: z.number().int().min(1).max(LONGEST_MAX_DAYS, `must be at most ${LONGEST_MAX_DAYS}: lasting access belongs in a rule`).default(DEFAULT_MAX_DAYS),
    justification: z.enum(['required', 'optional']).default('required'),
    conflicts: z.array(z.string()).default([]),
  })
  .strict()
  .refine((e) => (e.role === undefined) !== (e.group === undefined), { message: 'name exactly one of role: or group: (what an approval grants)' });

export type CatalogEntryInput = z.infer<typeof catalogEntrySchema>;

export interface CatalogContext {
  roles: ReadonlyMap<string, { groups: string[] }>;
  /** Managed groups, keyed by lower-cased name. */
  groups: ReadonlyMap<string, string>;
  conflicts: ReadonlyArray<readonly [string, string]>;
  checkFilter(when: string): FilterNode;
}

/** Checks the catalog against the rest of the policy; each problem is [path in the file, message]. */
export function checkCatalog(raw: readonly CatalogEntryInput[], context: CatalogContext): { entries: CatalogEntry[]; problems: Array<[Array<string | number>, string]> } {
  const problems: Array<[Array<string | number>, string]> = [];
  const entries: CatalogEntry[] = [];
  const names = new Set<string>();
  raw.forEach((input, index) => {
    const at = (field: string): Array<string | number> => ['catalog', index, field];
    const label = `catalog entry "${input.name}"`;
    const problem = (field: string, message: string) => problems.push([at(field), `${label}: ${field}: ${message}`]);
    if (names.has(input.name)) problem('name', 'the name is used by an earlier entry');
    names.add(input.name);
    let groups: string[] = [];
    if (input.role !== undefined) {
      const role = context.roles.get(input.role);
      if (role) groups = role.groups;
      else problem('role', `no role is named "${input.role}"`);
    } else if (input.group !== undefined) {
      const managed = context.groups.get(input.group.toLowerCase());
      // Exceptions grant managed groups only: an IdP group's members are the IdP's to change.
      if (managed) groups = [managed];
      else problem('group', `"${input.group}" is not a group any role grants; the catalog offers managed groups (add it to a role, or request a role)`);
    }
    let requesters: CatalogEntry['requesters'];
    if (input.requesters !== undefined) {
      try {
        requesters = { when: input.requesters, filter: context.checkFilter(input.requesters) };
      } catch (error) {
        problem('requesters', (error as Error).message);
      }
    }
    for (const name of input.conflicts) if (!context.roles.has(name)) problem('conflicts', `no role is named "${name}"`);
    // The policy's own conflicts for every role that grants this access apply too.
    const granting = [...context.roles].filter(([, role]) => role.groups.some((g) => groups.some((h) => h.toLowerCase() === g.toLowerCase()))).map(([name]) => name);
    const fromPolicy = context.conflicts.flatMap(([a, b]) => (granting.includes(a) ? [b] : granting.includes(b) ? [a] : []));
    const conflictsWith = [...new Set([...fromPolicy, ...input.conflicts])].filter((r) => !granting.includes(r) || input.conflicts.includes(r));
    if (groups.length === 0) return;
    entries.push({
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      grants: { ...(input.role !== undefined ? { role: input.role } : {}), groups },
      ...(requesters ? { requesters } : {}),
      stages: input.approvers.map((s) => ({ manager: s.manager === true, owners: s.owners ?? [], ...(s.group !== undefined ? { group: s.group } : {}) })),
      maxDays: input.maxDays,
      justificationRequired: input.justification === 'required',
      conflictsWith,
    });
  });
  return { entries, problems };
}

/** A stage in words, for pages, messages and notifications. */
export function describeStage(stage: ApprovalStage): string {
  const parts = [...(stage.manager ? ['the manager'] : []), ...stage.owners, ...(stage.group ? [`members of ${stage.group}`] : [])];
  return parts.join(' or ');
}
