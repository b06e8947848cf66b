/**
 * JSON logs (winston). Values under keys that look like secrets are replaced before anything is
 * written, so a token or password passed in log metadata by mistake never reaches the log.
 */
import winston from 'winston';

const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|credential/i;

const redactSecrets = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEY.test(key)) (info as Record<string, unknown>)[key] = '[redacted]';
  }
  return info;
});

export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  format: winston.format.combine(redactSecrets(), winston.format.timestamp(), winston.format.json()),
  defaultMeta: { service: 'roster' },
  // Logs go to stderr so that what a command prints on stdout (a new token, a report) stays clean.
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
});

export function setLogLevel(level: string): void {
  logger.level = level;
}
