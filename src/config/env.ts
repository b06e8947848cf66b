/**
 * Deployment settings come from the environment (documented in .env.example) and are validated
 * once at start-up: a wrong value stops Roster with the variable's name and the fix.
 */
import path from 'node:path';
import { z } from 'zod';

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
  return {
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
  };
}
