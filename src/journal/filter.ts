/**
 * Journal query filters, parsed from the strings an HTTP query or a command line gives, with
 * errors that name the parameter and show a valid value. One parser for the API and the CLI, so
 * both accept exactly the same filters.
 */
import { parseTime, TIME_FORMS } from './time.js';
import { OperatorError } from '../lib/operator-error.js';

export interface JournalFilter {
  resourceType?: 'User' | 'Group';
  resourceId?: string;
  /** A userName: entries about that user (under any of its ids) and membership changes that touched it. */
  user?: string;
  /** A group displayName: entries about that group. */
  group?: string;
  actor?: string;
  /** One or more sources (any of them). */
  source?: string[];
  /** One or more actions (any of them). */
  action?: string[];
  requestId?: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
}

export class JournalFilterError extends OperatorError {
  override name = 'JournalFilterError';
}

/** The filter parameters, by their API names, with the CLI flag each corresponds to. */
export const FILTER_PARAMETERS = {
  resourceType: '--type',
  resourceId: '--id',
  user: '--user',
  group: '--group',
  actor: '--actor',
  source: '--source',
  action: '--action',
  requestId: '--request-id',
  since: '--since',
  until: '--until',
} as const;

export type FilterInput = Partial<Record<keyof typeof FILTER_PARAMETERS, string | undefined>>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TEXT = 512;

export function resourceTypeOf(text: string): 'User' | 'Group' | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'user' || t === 'users') return 'User';
  if (t === 'group' || t === 'groups') return 'Group';
  return undefined;
}

export function parseJournalFilter(input: FilterInput, name: (key: keyof typeof FILTER_PARAMETERS) => string = (k) => k, now = new Date()): JournalFilter {
  const filter: JournalFilter = {};
  const text = (key: keyof typeof FILTER_PARAMETERS): string | undefined => {
    const value = input[key];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    if (trimmed === '') throw new JournalFilterError(`${name(key)} must not be empty`);
    if (trimmed.length > MAX_TEXT) throw new JournalFilterError(`${name(key)} is longer than ${MAX_TEXT} characters`);
    return trimmed;
  };
  const list = (key: 'source' | 'action') => text(key)?.split(',').map((v) => v.trim()).filter(Boolean);

  const type = text('resourceType');
  if (type !== undefined) {
    const resourceType = resourceTypeOf(type);
    if (!resourceType) throw new JournalFilterError(`${name('resourceType')} must be User or Group, not "${type}"`);
    filter.resourceType = resourceType;
  }
  const id = text('resourceId');
  if (id !== undefined) {
    if (!UUID.test(id)) throw new JournalFilterError(`${name('resourceId')} must be a resource id (a UUID such as 2819c223-7f76-453a-919d-413861904646), not "${id}"`);
    filter.resourceId = id.toLowerCase();
  }
  for (const key of ['user', 'group', 'actor', 'requestId'] as const) {
    const value = text(key);
    if (value !== undefined) filter[key] = value;
  }
  for (const key of ['source', 'action'] as const) {
    const values = list(key);
    if (values?.length) filter[key] = values;
  }
  for (const key of ['since', 'until'] as const) {
    const value = text(key);
    if (value === undefined) continue;
    const time = parseTime(value, now);
    if (!time) throw new JournalFilterError(`${name(key)} must be ${TIME_FORMS}, not "${value}"`);
    filter[key] = time;
  }
  if (filter.since && filter.until && filter.since >= filter.until) {
    throw new JournalFilterError(`${name('since')} must be earlier than ${name('until')}`);
  }
  return filter;
}
