/**
 * Deployment settings come from the environment (documented in .env.example) and are validated
 * once at start-up: a wrong value stops Roster with the variable's name and the fix.
 */
import path from 'node:path';
import { z } from 'zod';
import { parseRoleMap, type ConsoleSettings } from './console.js';

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
  ROSTER_DB_POOL_MAX: integer(10, 1, 200),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug']).default('info'),
  // Outbound connectors (docs/connectors.md): a YAML file; unset = no connectors.
  ROSTER_CONNECTORS_FILE: z.string().min(1).optional(),
  // Access policy (docs/policy.md): a YAML file; unset = policy.yaml if present, else no policy.
  ROSTER_POLICY_FILE: z.string().min(1).optional(),
  // OAuth 2.0 / JWT (docs/operations-auth.md). The three ROSTER_JWT_* / JWKS settings go together.
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
  // Journal (docs/operations-journal.md): checkpoint signing key, and how long entries are kept.
  ROSTER_JOURNAL_KEY: z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -hex 32)').optional(),
  ROSTER_JOURNAL_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).optional(),
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
});

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
  dbPoolMax: number;
  logLevel: 'error' | 'warn' | 'info' | 'http' | 'debug';
  /** Path of the outbound connectors file (YAML); undefined = no connectors. */
  connectorsFile: string | undefined;
  /** Path of the policy file as given; undefined = policy.yaml if present, else no policy. */
  policyFile: string | undefined;
  /** Bearer JWTs from an external authorization server; undefined when not configured. */
  jwt: { issuer: string; audience: string; jwksUrl: string; algorithms: string[]; clockSkewSeconds: number; jwksRefreshCooldownSeconds: number } | undefined;
  /** Roster's own client-credentials token endpoint. */
  oauth: { tokenTtlSeconds: number; keyRotationDays: number };
  /** Per-token token bucket; perSecond 0 switches limiting off. */
  rateLimit: { perSecond: number; burst: number };
  /** Journal checkpoint key (undefined = generated and stored in the database) and retention (undefined = keep forever). */
  journal: { keySecret: string | undefined; retentionDays: number | undefined };
  /** The ops console at /console (src/config/console.ts). */
  console: ConsoleSettings;
};

export class ConfigError extends Error {
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
  return {
    console: consoleSettings(e),
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
    dbPoolMax: e.ROSTER_DB_POOL_MAX,
    logLevel: e.LOG_LEVEL,
    connectorsFile: e.ROSTER_CONNECTORS_FILE ? path.resolve(e.ROSTER_CONNECTORS_FILE) : undefined,
    policyFile: e.ROSTER_POLICY_FILE,
    jwt:
      e.ROSTER_JWT_ISSUER && e.ROSTER_JWT_AUDIENCE && e.ROSTER_JWKS_URL
        ? { issuer: e.ROSTER_JWT_ISSUER, audience: e.ROSTER_JWT_AUDIENCE, jwksUrl: e.ROSTER_JWKS_URL, algorithms: e.ROSTER_JWT_ALGORITHMS, clockSkewSeconds: e.ROSTER_JWT_CLOCK_SKEW_SECONDS, jwksRefreshCooldownSeconds: e.ROSTER_JWKS_REFRESH_COOLDOWN_SECONDS }
        : undefined,
    oauth: { tokenTtlSeconds: e.ROSTER_OAUTH_TOKEN_TTL_SECONDS, keyRotationDays: e.ROSTER_OAUTH_KEY_ROTATION_DAYS },
    rateLimit: { perSecond: e.ROSTER_RATE_LIMIT_PER_SECOND, burst: e.ROSTER_RATE_LIMIT_BURST },
    journal: { keySecret: e.ROSTER_JOURNAL_KEY, retentionDays: e.ROSTER_JOURNAL_RETENTION_DAYS },
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
