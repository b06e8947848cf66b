/**
 * What each console role may do. Every page and action names the permission it needs, and the
 * router refuses it server-side (403) for a person whose roles lack it; the page only hides what
 * cannot be used. Docs: docs/console.md#roles.
 *   read     every page, everything but secrets (no role sees a secret: the console shows none)
 *   operate  retry parked objects, approve a guard pause, full syncs and drift reports, apply a
 *            policy, apply an HR import
 *   audit    journal exports and chain verification
 *   request  the Requests page: ask for access from the catalog, withdraw, decide as an approver
 *            (who may decide a request is the catalog's rule, checked on the person, not the role);
 *            every role has it, and `requester` has only it (for everyone else in the company)
 */
import type { ConsoleRole } from '../config/console.js';

export type Permission = 'read' | 'operate' | 'audit' | 'request';

const GRANTS: Record<ConsoleRole, readonly Permission[]> = {
  viewer: ['read', 'request'],
  operator: ['read', 'operate', 'request'],
  auditor: ['read', 'audit', 'request'],
  requester: ['request'],
};

export function may(roles: readonly ConsoleRole[], permission: Permission): boolean {
  return roles.some((role) => GRANTS[role].includes(permission));
}

/** The role that grants a permission, for the refusal message. */
export function roleFor(permission: Permission): ConsoleRole {
  return permission === 'operate' ? 'operator' : permission === 'audit' ? 'auditor' : permission === 'request' ? 'requester' : 'viewer';
}
