/**
 * Deployment settings come from the environment (documented in .env.example) and are validated
 * once at start-up: a wrong value stops Roster with the variable's name and the fix.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { OperatorError } from '../lib/operator-error.js';
import { parseHeadSink, type HeadSink } from './head-sink.js';
import { parseSecretsKey } from '../lib/secret-box.js';

const SECRETS_KEY_FORMAT = 'must be 32 random bytes as 64 hex digits or base64 (make one with: openssl rand -hex 32)';
import { parseRoleMap, type ConsoleSettings } from './console.js';
import type { RequestSettings } from './notify.js';

const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const envSchema = z.object({
  PORT: integer(8080, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  ROSTER_DATA_DIR: z.string().min(1).default('.roster-data'),
  ROSTER_EMBEDDED_PG_PORT: integer(54329, 1, 65535),
  ROSTER_BOOTSTRAP_TOKEN: z.string().min(20, 'must be at least 20 characters').optional(),
  ROSTER_PUBLIC_URL: z.string().url('must be an absolute URL such as https://roster.example.com').optional(),
  ROSTER_MAX_BODY_BYTES: integer(1_048_576, 1024, 64 * 1_048_576),
  ROSTER_DEFAULT_PAGE_SIZE: integer(100, 1, 10_000),
  ROSTER_MAX_PAGE_SIZE: integer(1000, 1, 10_000),
  ROSTER_BULK_MAX_OPERATIONS: integer(1000, 1, 10_000),
  ROSTER_MAX_JSON_DEPTH: integer(64, 8, 256),
  ROSTER_DB_POOL_MAX: integer(10, 1, 200),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug']).default('info'),
  // Outbound connectors (docs/connectors.md): a YAML file; unset = no connectors.
  ROSTER_CONNECTORS_FILE: z.string().min(1).optional(),
  // Access policy (docs/policy.md): a YAML file; unset = on the embedded quick start the sample policy.yaml, else no policy.
  ROSTER_POLICY_FILE: z.string().min(1).optional(),
  // HR import (docs/policy.md): the columns file `roster import` and the console's import use when none is given.
  ROSTER_HR_COLUMNS_FILE: z.string().min(1).optional(),
  // OAuth 2.0 / JWT (docs/authentication.md). The three ROSTER_JWT_* / JWKS settings go together.
  ROSTER_JWT_ISSUER: z.string().min(1).optional(),
  ROSTER_JWT_AUDIENCE: z.string().min(1).optional(),
  ROSTER_JWKS_URL: z.string().url('must be the https URL of the issuer\'s JSON Web Key Set').optional(),
  ROSTER_JWT_ALGORITHMS: z
    .string()
    .default('RS256,ES256')
    .transform((value) => value.split(',').map((a) => a.trim()).filter(Boolean))
    .pipe(z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'], { message: 'lists asymmetric algorithms only: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA' })).min(1)),
  ROSTER_JWT_CLOCK_SKEW_SECONDS: integer(30, 0, 300),
  ROSTER_JWKS_REFRESH_COOLDOWN_SECONDS: integer(30, 0, 3600),
  ROSTER_OAUTH_TOKEN_TTL_SECONDS: integer(900, 60, 86_400),
  ROSTER_OAUTH_KEY_ROTATION_DAYS: integer(30, 1, 365),
  ROSTER_RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).max(100_000).default(50),
  ROSTER_RATE_LIMIT_BURST: integer(200, 1, 1_000_000),
  // Refused credentials (docs/security.md): per-address limit and journal window, and the proxies
  // whose X-Forwarded-For names the client address.
  ROSTER_AUTH_FAILURE_LIMIT_PER_MINUTE: integer(30, 0, 100_000),
  ROSTER_AUTH_FAILURE_BURST: integer(20, 1, 100_000),
  ROSTER_AUTH_FAILURE_JOURNAL_WINDOW_SECONDS: integer(60, 0, 3600),
  ROSTER_TRUST_PROXY: z
    .string()
    .default('false')
    .transform((value, ctx) => {
      const parsed = parseTrustProxy(value);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: parsed });
        return z.NEVER;
      }
      return parsed;
    }),
  // Journal (docs/journal.md): checkpoint signing key, and how long entries are kept.
  ROSTER_JOURNAL_KEY: z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -hex 32)').optional(),
  ROSTER_JOURNAL_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).optional(),
  // Signed journal heads published outside PostgreSQL (docs/security.md): where, and how often.
  ROSTER_JOURNAL_HEAD_SINK: z
    .string()
    .transform((value, ctx) => {
      const sink = parseHeadSink(value);
      if (typeof sink === 'string') {
        ctx.addIssue({ code: 'custom', message: `${sink}; give a file path, a file: URL or an http(s):// URL` });
        return z.NEVER;
      }
      return sink;
    })
    .optional(),
  ROSTER_JOURNAL_HEAD_INTERVAL_SECONDS: integer(60, 1, 86_400),
  // The Authorization header value for an http(s) head sink (a receiver should not take heads from anyone).
  ROSTER_JOURNAL_HEAD_SINK_AUTHORIZATION: z.string().optional(),
  // Secrets at rest (docs/security.md): the key that seals stored secrets, and old keys while rotating.
  ROSTER_SECRETS_KEY: z
    .string()
    .transform((value, ctx) => parseSecretsKey(value) ?? (ctx.addIssue({ code: 'custom', message: SECRETS_KEY_FORMAT }), z.NEVER))
    .optional(),
  ROSTER_SECRETS_KEY_PREVIOUS: z
    .string()
    .transform((value, ctx) => {
      const keys = value.split(',').map((k) => k.trim()).filter(Boolean).map(parseSecretsKey);
      if (keys.length === 0 || keys.some((k) => k === undefined)) {
        ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of old keys, each ${SECRETS_KEY_FORMAT.replace('must be ', '')}` });
        return z.NEVER;
      }
      return keys as Buffer[];
    })
    .optional(),
  // Ops console (docs/console.md): OpenID Connect sign-in, the claim that carries groups or roles
  // and its mapping to console roles, session limits, and sign-in with a Roster token.
  ROSTER_CONSOLE_OIDC_ISSUER: z.string().url('must be the issuer URL of your OpenID Connect provider, e.g. https://login.microsoftonline.com/<tenant>/v2.0').optional(),
  ROSTER_CONSOLE_OIDC_CLIENT_ID: z.string().min(1).optional(),
  ROSTER_CONSOLE_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  ROSTER_CONSOLE_OIDC_REDIRECT_URI: z.string().url('must be the absolute callback URL registered at the provider, ending in /console/callback').optional(),
  ROSTER_CONSOLE_OIDC_SCOPES: z.string().default('openid profile email'),
  ROSTER_CONSOLE_ROLES_CLAIM: z.string().min(1).default('groups'),
  ROSTER_CONSOLE_ROLE_MAP: z.string().optional(),
  ROSTER_CONSOLE_IDLE_MINUTES: integer(30, 1, 1440),
  ROSTER_CONSOLE_SESSION_HOURS: integer(12, 1, 168),
  ROSTER_CONSOLE_TOKEN_SIGN_IN: z.enum(['on', 'off'], { message: 'must be on or off' }).default('on'),
  // Access requests (docs/governance.md#access-requests): how long one waits for its decisions, and
  // how approvers are told (both optional): email through SMTP, a JSON webhook signed with a secret.
  ROSTER_ACCESS_REQUEST_EXPIRY_DAYS: integer(14, 1, 365),
  ROSTER_NOTIFY_SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL such as smtp://user:password@mail.example.com:587').optional(),
  ROSTER_NOTIFY_EMAIL_FROM: z.string().email('must be an email address such as roster@example.com').default('roster@localhost'),
  ROSTER_NOTIFY_WEBHOOK_URL: z.string().url('must be the http(s) URL that receives the JSON POST').optional(),
  ROSTER_NOTIFY_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)').optional(),
});

/**
 * The name of every variable `loadConfig` reads. docs/operations.md and .env.example must list
 * each one (test/docs.test.ts checks it), so a new variable cannot ship undocumented.
 */
export const ENVIRONMENT_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export type RosterConfig = {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  bootstrapToken: string | undefined;
  publicUrl: string | undefined;
  maxBodyBytes: number;
  defaultPageSize: number;
  maxPageSize: number;
  bulkMaxOperations: number;
  /** Deepest nesting of arrays and objects accepted in a JSON body (docs/security.md). */
  maxJsonDepth: number;
  dbPoolMax: number;
  logLevel: 'error' | 'warn' | 'info' | 'http' | 'debug';
  /** Path of the outbound connectors file (YAML); undefined = no connectors. */
  connectorsFile: string | undefined;
  /** Path of the policy file as given; undefined = the sample policy.yaml on the embedded quick start, else no policy. */
  policyFile: string | undefined;
  /** ROSTER_HR_COLUMNS_FILE, resolved; undefined = the import's own default (src/import/columns-file.ts). */
  hrColumnsFile: string | undefined;
  /** Bearer JWTs from an external authorization server; undefined when not configured. */
  jwt: { issuer: string; audience: string; jwksUrl: string; algorithms: string[]; clockSkewSeconds: number; jwksRefreshCooldownSeconds: number } | undefined;
  /** Roster's own client-credentials token endpoint. */
  oauth: { tokenTtlSeconds: number; keyRotationDays: number };
  /** Per-token token bucket; perSecond 0 switches limiting off. */
  rateLimit: { perSecond: number; burst: number };
  /** Refused credentials: per-address limit (perMinute 0 = off) and journal window (0 = every refusal journaled). */
  authFailures: { perMinute: number; burst: number; journalWindowSeconds: number };
  /** express `trust proxy`: false (the socket's peer is the client), a hop count, or proxy addresses/ranges. */
  trustProxy: TrustProxy;
  /** Journal checkpoint key (undefined = generated and stored in the database) and retention (undefined = keep forever). */
  journal: { keySecret: string | undefined; retentionDays: number | undefined; headSink: HeadSink | undefined; headIntervalSeconds: number };
  /** The key stored secrets are sealed with (undefined: generated into the data folder when embedded, else plain text), and old keys that still open. */
  secrets: { key: Buffer | undefined; previousKeys: Buffer[] };
  /** The ops console at /console (src/config/console.ts). */
  console: ConsoleSettings;
  /** Access requests: expiry and notifications (src/config/notify.ts). */
  requests: RequestSettings;
};

export type TrustProxy = false | number | string[];

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * ROSTER_TRUST_PROXY: "false", a number of proxy hops, or a comma-separated list of proxy
 * addresses, CIDR ranges and express's names (loopback, linklocal, uniquelocal). "true" is refused:
 * it believes any X-Forwarded-For, so every client could pick the address it is counted under.
 * Returns the problem as a string when the value is not one of these.
 */
export function parseTrustProxy(value: string): TrustProxy | string {
  const trimmed = value.trim().toLowerCase();
  if (trimmed === 'false' || trimmed === 'none') return false;
  if (trimmed === 'true') return 'must not be "true" (any client could then choose its own address): give the proxy\'s address or range (e.g. 10.0.0.0/8, loopback) or the number of proxies in front of Roster';
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const entries = trimmed.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = entries.filter((entry) => {
    if (PROXY_NAMES.has(entry)) return false;
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || extra !== undefined) return true;
    return prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  });
  if (entries.length === 0 || bad.length > 0) {
    return `"${bad.join(', ') || value}" is not a proxy address, CIDR range, hop count or one of loopback, linklocal, uniquelocal`;
  }
  return entries;
}

export class ConfigError extends OperatorError {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RosterConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration (see .env.example):\n${problems.join('\n')}`);
  }
  const e = parsed.data;
  if (e.ROSTER_DEFAULT_PAGE_SIZE > e.ROSTER_MAX_PAGE_SIZE) {
    throw new ConfigError('Invalid configuration: ROSTER_DEFAULT_PAGE_SIZE must not exceed ROSTER_MAX_PAGE_SIZE');
  }
  const jwtKeys = [e.ROSTER_JWT_ISSUER, e.ROSTER_JWT_AUDIENCE, e.ROSTER_JWKS_URL].filter((v) => v !== undefined).length;
  if (jwtKeys !== 0 && jwtKeys !== 3) {
    throw new ConfigError('Invalid configuration: set ROSTER_JWT_ISSUER, ROSTER_JWT_AUDIENCE and ROSTER_JWKS_URL together (or none of them)');
  }
  if (e.ROSTER_JOURNAL_HEAD_SINK_AUTHORIZATION !== undefined && e.ROSTER_JOURNAL_HEAD_SINK?.kind !== 'http') {
    throw new ConfigError('Invalid configuration: ROSTER_JOURNAL_HEAD_SINK_AUTHORIZATION is sent to an http(s) head sink; set ROSTER_JOURNAL_HEAD_SINK to an http(s):// URL or unset it');
  }
  return {
    console: consoleSettings(e),
    requests: {
      undecidedMs: e.ROSTER_ACCESS_REQUEST_EXPIRY_DAYS * 86_400_000,
      notify: { smtpUrl: e.ROSTER_NOTIFY_SMTP_URL, emailFrom: e.ROSTER_NOTIFY_EMAIL_FROM, webhookUrl: e.ROSTER_NOTIFY_WEBHOOK_URL, webhookSecret: e.ROSTER_NOTIFY_WEBHOOK_SECRET, publicUrl: e.ROSTER_PUBLIC_URL },
    },
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.ROSTER_DATA_DIR),
    embeddedPgPort: e.ROSTER_EMBEDDED_PG_PORT,
    bootstrapToken: e.ROSTER_BOOTSTRAP_TOKEN,
    publicUrl: e.ROSTER_PUBLIC_URL?.replace(/\/+$/, ''),
    maxBodyBytes: e.ROSTER_MAX_BODY_BYTES,
    defaultPageSize: e.ROSTER_DEFAULT_PAGE_SIZE,
    maxPageSize: e.ROSTER_MAX_PAGE_SIZE,
    bulkMaxOperations: e.ROSTER_BULK_MAX_OPERATIONS,
    maxJsonDepth: e.ROSTER_MAX_JSON_DEPTH,
    dbPoolMax: e.ROSTER_DB_POOL_MAX,
    logLevel: e.LOG_LEVEL,
    connectorsFile: e.ROSTER_CONNECTORS_FILE ? path.resolve(e.ROSTER_CONNECTORS_FILE) : undefined,
    policyFile: e.ROSTER_POLICY_FILE,
    hrColumnsFile: e.ROSTER_HR_COLUMNS_FILE ? path.resolve(e.ROSTER_HR_COLUMNS_FILE) : undefined,
    jwt:
      e.ROSTER_JWT_ISSUER && e.ROSTER_JWT_AUDIENCE && e.ROSTER_JWKS_URL
        ? { issuer: e.ROSTER_JWT_ISSUER, audience: e.ROSTER_JWT_AUDIENCE, jwksUrl: e.ROSTER_JWKS_URL, algorithms: e.ROSTER_JWT_ALGORITHMS, clockSkewSeconds: e.ROSTER_JWT_CLOCK_SKEW_SECONDS, jwksRefreshCooldownSeconds: e.ROSTER_JWKS_REFRESH_COOLDOWN_SECONDS }
        : undefined,
    oauth: { tokenTtlSeconds: e.ROSTER_OAUTH_TOKEN_TTL_SECONDS, keyRotationDays: e.ROSTER_OAUTH_KEY_ROTATION_DAYS },
    rateLimit: { perSecond: e.ROSTER_RATE_LIMIT_PER_SECOND, burst: e.ROSTER_RATE_LIMIT_BURST },
    authFailures: {
      perMinute: e.ROSTER_AUTH_FAILURE_LIMIT_PER_MINUTE,
      burst: e.ROSTER_AUTH_FAILURE_BURST,
      journalWindowSeconds: e.ROSTER_AUTH_FAILURE_JOURNAL_WINDOW_SECONDS,
    },
    trustProxy: e.ROSTER_TRUST_PROXY,
    journal: {
      keySecret: e.ROSTER_JOURNAL_KEY,
      retentionDays: e.ROSTER_JOURNAL_RETENTION_DAYS,
      headSink:
        e.ROSTER_JOURNAL_HEAD_SINK?.kind === 'http' && e.ROSTER_JOURNAL_HEAD_SINK_AUTHORIZATION !== undefined
          ? { ...e.ROSTER_JOURNAL_HEAD_SINK, authorization: e.ROSTER_JOURNAL_HEAD_SINK_AUTHORIZATION }
          : e.ROSTER_JOURNAL_HEAD_SINK,
      headIntervalSeconds: e.ROSTER_JOURNAL_HEAD_INTERVAL_SECONDS,
    },
    secrets: { key: e.ROSTER_SECRETS_KEY, previousKeys: e.ROSTER_SECRETS_KEY_PREVIOUS ?? [] },
  };
}

function consoleSettings(e: z.infer<typeof envSchema>): ConsoleSettings {
  const oidcKeys = [e.ROSTER_CONSOLE_OIDC_ISSUER, e.ROSTER_CONSOLE_OIDC_CLIENT_ID].filter((v) => v !== undefined).length;
  if (oidcKeys === 1) {
    throw new ConfigError('Invalid configuration: set ROSTER_CONSOLE_OIDC_ISSUER and ROSTER_CONSOLE_OIDC_CLIENT_ID together (or neither, for no SSO sign-in)');
  }
  let oidc: ConsoleSettings['oidc'];
  if (e.ROSTER_CONSOLE_OIDC_ISSUER && e.ROSTER_CONSOLE_OIDC_CLIENT_ID) {
    const publicUrl = e.ROSTER_PUBLIC_URL?.replace(/\/+$/, '');
    const redirectUri = e.ROSTER_CONSOLE_OIDC_REDIRECT_URI ?? (publicUrl ? `${publicUrl}/console/callback` : undefined);
    if (!redirectUri) {
      throw new ConfigError('Invalid configuration: ROSTER_CONSOLE_OIDC_REDIRECT_URI (or ROSTER_PUBLIC_URL, giving <url>/console/callback) is needed for SSO sign-in');
    }
    if (!e.ROSTER_CONSOLE_ROLE_MAP) {
      throw new ConfigError('Invalid configuration: ROSTER_CONSOLE_ROLE_MAP must map values of the ROSTER_CONSOLE_ROLES_CLAIM claim to console roles, e.g. Roster-Operators=operator,Roster-Auditors=auditor,Staff=viewer');
    }
    const roleMap = parseRoleMap(e.ROSTER_CONSOLE_ROLE_MAP);
    if (typeof roleMap === 'string') throw new ConfigError(`Invalid configuration: ROSTER_CONSOLE_ROLE_MAP: ${roleMap}`);
    oidc = {
      issuer: e.ROSTER_CONSOLE_OIDC_ISSUER,
      clientId: e.ROSTER_CONSOLE_OIDC_CLIENT_ID,
      clientSecret: e.ROSTER_CONSOLE_OIDC_CLIENT_SECRET,
      redirectUri,
      scopes: e.ROSTER_CONSOLE_OIDC_SCOPES.split(/[\s,]+/).filter(Boolean),
      rolesClaim: e.ROSTER_CONSOLE_ROLES_CLAIM,
      roleMap,
    };
    if (!oidc.scopes.includes('openid')) throw new ConfigError('Invalid configuration: ROSTER_CONSOLE_OIDC_SCOPES must include openid');
  }
  return {
    oidc,
    tokenSignIn: e.ROSTER_CONSOLE_TOKEN_SIGN_IN === 'on',
    idleMs: e.ROSTER_CONSOLE_IDLE_MINUTES * 60_000,
    absoluteMs: e.ROSTER_CONSOLE_SESSION_HOURS * 3_600_000,
  };
}
