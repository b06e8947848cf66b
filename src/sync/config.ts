/**
 * The connectors file (ROSTER_CONNECTORS_FILE, YAML): which downstream SCIM apps Roster pushes to,
 * and how. Validated once at start-up; any problem stops Roster with the connector, the key and the
 * fix. Secrets are only named here (environment variables), read at load time, and never kept in
 * anything that is logged or journaled.
 */
import fs from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config/env.js';
import { parseFilter } from '../scim/filter/parse.js';
import { matchesFilter } from '../scim/filter/match.js';
import { PROFILE_NAMES } from '../../connectors/profiles.js';
import type { ConnectorAuth } from '../../connectors/scim/auth.js';

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = z.string().regex(ENV_NAME, 'must be the name of an environment variable, e.g. SLACK_SCIM_TOKEN');

const authSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer'), tokenEnv: envName }),
  z.strictObject({ type: z.literal('basic'), usernameEnv: envName, passwordEnv: envName }),
  z.strictObject({
    type: z.literal('oauth-client-credentials'),
    tokenUrl: z.string().url('must be the URL of the token endpoint'),
    clientIdEnv: envName,
    clientSecretEnv: envName,
    scope: z.string().min(1).optional(),
  }),
]);

const durationSchema = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 500ms, 30s, 15m, 24h or 7d')
  .transform(parseDuration);

const connectorSchema = z.strictObject({
  name: z.string().regex(NAME, 'must be lower-case letters, digits, - or _ (at most 63), e.g. slack'),
  profile: z.enum(PROFILE_NAMES as [string, ...string[]]).default('generic'),
  baseUrl: z.string().url('must be the absolute SCIM base URL, e.g. https://app.example.com/scim/v2'),
  auth: authSchema,
  users: z.strictObject({ filter: z.string().min(1).optional() }).default({}),
  groups: z
    .strictObject({
      names: z.array(z.string().min(1)).min(1).optional(),
      filter: z.string().min(1).optional(),
      all: z.boolean().optional(),
    })
    .optional(),
  matchOn: z.enum(['userName', 'externalId', 'none']).default('userName'),
  deprovision: z.enum(['disable', 'delete']).default('disable'),
  rateLimit: z
    .strictObject({
      requestsPerSecond: z.number().positive().max(10_000).optional(),
      concurrency: z.number().int().min(1).max(64).default(4),
    })
    .default({ concurrency: 4 }),
  timeout: durationSchema.default(30_000),
  dryRun: z.boolean().default(false),
  guard: z
    .strictObject({
      maxDeprovisions: z.number().int().min(0).default(50),
      maxShare: z.number().min(0).max(1).optional(),
      window: durationSchema.default(3_600_000),
    })
    .default({ maxDeprovisions: 50, window: 3_600_000 }),
  retry: z
    .strictObject({ baseDelay: durationSchema.default(1000), maxDelay: durationSchema.default(300_000) })
    .default({ baseDelay: 1000, maxDelay: 300_000 }),
  circuit: z
    .strictObject({ failureThreshold: z.number().int().min(1).default(5), openFor: durationSchema.default(30_000), maxOpenFor: durationSchema.default(600_000) })
    .default({ failureThreshold: 5, openFor: 30_000, maxOpenFor: 600_000 }),
  reconcile: z.strictObject({ every: durationSchema }).optional(),
});

const fileSchema = z.strictObject({ connectors: z.array(connectorSchema).default([]) });


export interface ConnectorConfig {
  name: string;
  profile: string;
  baseUrl: string;
  /** Secrets resolved from the environment. Never log or journal this object. */
  auth: ConnectorAuth;
  users: { filter?: string | undefined };
  groups: { names?: string[] | undefined; filter?: string | undefined; all?: boolean | undefined } | undefined;
  matchOn: 'userName' | 'externalId' | 'none';
  deprovision: 'disable' | 'delete';
  rateLimit: { requestsPerSecond?: number | undefined; concurrency: number };
  timeoutMs: number;
  dryRun: boolean;
  guard: { maxDeprovisions: number; maxShare: number | undefined; windowMs: number };
  retry: { baseDelayMs: number; maxDelayMs: number };
  circuit: { failureThreshold: number; openForMs: number; maxOpenForMs: number };
  reconcile: { everyMs: number } | undefined;
}

export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text)!;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Reads and validates the connectors file. Throws ConfigError naming the connector, key and fix. */
export function loadConnectorsFile(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ConnectorConfig[] {
  if (!file) return [];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`ROSTER_CONNECTORS_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix the path or unset the variable to run without connectors`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : '';
    throw new ConfigError(`ROSTER_CONNECTORS_FILE: ${file} is not valid YAML${where}`);
  }
  return parseConnectors(document ?? {}, env, file);
}

/** Validates an already-parsed connectors document (the YAML's content). */
export function parseConnectors(document: unknown, env: NodeJS.ProcessEnv, source = 'connectors file'): ConnectorConfig[] {
  const parsed = fileSchema.safeParse(document);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${describePath(document, issue.path)}: ${issue.message}`);
    throw new ConfigError(`Invalid connector configuration in ${source}:\n${lines.join('\n')}`);
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  const connectors: ConnectorConfig[] = [];
  for (const raw of parsed.data.connectors) {
    const at = (key: string, message: string) => problems.push(`  connector ${raw.name}: ${key}: ${message}`);
    if (seen.has(raw.name)) at('name', 'is used by another connector; names must be unique');
    seen.add(raw.name);
    const url = new URL(raw.baseUrl);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
      at('baseUrl', 'must use https (plain http is accepted only for a loopback address, for testing)');
    }
    for (const [key, filter, type] of [
      ['users.filter', raw.users.filter, 'User'],
      ['groups.filter', raw.groups?.filter, 'Group'],
    ] as const) {
      if (filter === undefined) continue;
      try {
        // Parse and resolve every path now, so a typo stops start-up rather than every sync.
        matchesFilter(parseFilter(filter), {}, { type });
      } catch (error) {
        at(key, `${(error as Error & { detail?: string }).detail ?? (error as Error).message} (a SCIM filter, RFC 7644 §3.4.2.2)`);
      }
    }
    if (raw.groups && [raw.groups.names, raw.groups.filter, raw.groups.all].filter((v) => v !== undefined).length !== 1) {
      at('groups', 'give exactly one of names: [..], filter: "..." or all: true');
    }
    const secret = (key: string, name: string): string => {
      const value = env[name];
      if (value === undefined || value === '') {
        at(key, `environment variable ${name} is not set; export it before starting Roster (secrets are never read from the file)`);
        return '';
      }
      return value;
    };
    const a = raw.auth;
    const auth: ConnectorAuth =
      a.type === 'bearer'
        ? { type: 'bearer', token: secret('auth.tokenEnv', a.tokenEnv) }
        : a.type === 'basic'
          ? { type: 'basic', username: secret('auth.usernameEnv', a.usernameEnv), password: secret('auth.passwordEnv', a.passwordEnv) }
          : { type: 'oauth-client-credentials', tokenUrl: a.tokenUrl, clientId: secret('auth.clientIdEnv', a.clientIdEnv), clientSecret: secret('auth.clientSecretEnv', a.clientSecretEnv), scope: a.scope };
    connectors.push({
      name: raw.name,
      profile: raw.profile,
      baseUrl: raw.baseUrl.replace(/\/+$/, ''),
      auth,
      users: raw.users,
      groups: raw.groups,
      matchOn: raw.matchOn,
      deprovision: raw.deprovision,
      rateLimit: raw.rateLimit,
      timeoutMs: raw.timeout,
      dryRun: raw.dryRun,
      guard: { maxDeprovisions: raw.guard.maxDeprovisions, maxShare: raw.guard.maxShare, windowMs: raw.guard.window },
      retry: { baseDelayMs: raw.retry.baseDelay, maxDelayMs: raw.retry.maxDelay },
      circuit: { failureThreshold: raw.circuit.failureThreshold, openForMs: raw.circuit.openFor, maxOpenForMs: raw.circuit.maxOpenFor },
      reconcile: raw.reconcile ? { everyMs: raw.reconcile.every } : undefined,
    });
  }
  if (problems.length > 0) throw new ConfigError(`Invalid connector configuration in ${source}:\n${problems.join('\n')}`);
  return connectors;
}

/** `connectors[0].auth.tokenEnv` → `connector slack: auth.tokenEnv` when the name is known. */
function describePath(document: unknown, path: ReadonlyArray<PropertyKey>): string {
  if (path[0] === 'connectors' && typeof path[1] === 'number') {
    const entry = (document as { connectors?: unknown[] }).connectors?.[path[1]] as { name?: unknown } | undefined;
    const label = typeof entry?.name === 'string' ? `connector ${entry.name}` : `connectors[${path[1]}]`;
    const rest = path.slice(2).map(String).join('.');
    return rest ? `${label}: ${rest}` : label;
  }
  return path.map(String).join('.') || '(file)';
}
