/**
 * A configured connector, ready to use: its configuration, its profile, its HTTP client, and its
 * scope compiled to SQL. Built once per process from the connectors file.
 */
import type { Knex } from 'knex';
import { profileNamed } from '../../connectors/profiles.js';
import type { Profile } from '../../connectors/profile.js';
import { createAuthProvider } from '../../connectors/scim/auth.js';
import { ScimClient } from '../../connectors/scim/client.js';
import { parseFilter } from '../scim/filter/parse.js';
import { filterToSql } from '../scim/filter/sql.js';
import type { ConnectorConfig } from './config.js';

export type ResourceType = 'User' | 'Group';

/** A SQL condition and its bindings, ready for knex.raw. */
export interface ScopeSql {
  sql: string;
  bindings: Knex.RawBinding[];
}

export interface Connector {
  name: string;
  config: ConnectorConfig;
  profile: Profile;
  client: ScimClient;
  /** SQL condition over alias `r` of the users / groups table: is this resource in scope? */
  scopeSql(type: ResourceType): ScopeSql;
}

const TRUE: ScopeSql = { sql: 'TRUE', bindings: [] };
const FALSE: ScopeSql = { sql: 'FALSE', bindings: [] };

/** Filter SQL (its bindings are plain values taken from the filter text). */
function scopeOf(filter: string, type: ResourceType): ScopeSql {
  const fragment = filterToSql(parseFilter(filter), type, 'r');
  return { sql: fragment.sql, bindings: fragment.bindings as Knex.RawBinding[] };
}

export function createConnector(config: ConnectorConfig): Connector {
  const profile = profileNamed(config.profile);
  const client = new ScimClient({
    baseUrl: config.baseUrl,
    timeoutMs: config.timeoutMs,
    auth: createAuthProvider(config.auth),
    maxSockets: config.rateLimit.concurrency,
  });
  const userScope = config.users.filter ? scopeOf(config.users.filter, 'User') : TRUE;
  const groups = config.groups;
  let groupScope = FALSE;
  if (groups?.all) groupScope = TRUE;
  else if (groups?.filter) groupScope = scopeOf(groups.filter, 'Group');
  else if (groups?.names) {
    groupScope = { sql: `lower(r.resource->>'displayName') = ANY(?::text[])`, bindings: [groups.names.map((n) => n.toLowerCase())] };
  }
  return {
    name: config.name,
    config,
    profile,
    client,
    scopeSql: (type) => (type === 'User' ? userScope : groupScope),
  };
}

export class ConnectorSet {
  private readonly byName: Map<string, Connector>;

  constructor(readonly list: readonly Connector[]) {
    this.byName = new Map(list.map((c) => [c.name, c]));
  }

  static fromConfig(configs: readonly ConnectorConfig[]): ConnectorSet {
    return new ConnectorSet(configs.map(createConnector));
  }

  get(name: string): Connector | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.list.length;
  }
}

/** Whether the resource exists and is in the connector's scope, evaluated in SQL like the full sync. */
export async function isInScope(db: Knex, connector: Connector, type: ResourceType, id: string, exists = false): Promise<boolean> {
  const scope = connector.scopeSql(type);
  if (exists && scope.sql === 'TRUE') return true;
  const table = type === 'User' ? 'users' : 'groups';
  const { rows } = (await db.raw(`SELECT EXISTS (SELECT 1 FROM ${table} r WHERE r.id = ? AND (${scope.sql})) AS ok`, [id, ...scope.bindings])) as {
    rows: Array<{ ok: boolean }>;
  };
  return rows[0]?.ok === true;
}
