/**
 * Every refused credential leaves a journal entry (source `auth`): what was refused, why, on which
 * request, and the unverified identity hints of the credential, never the credential itself.
 * A failure to journal is logged and does not change the answer the client gets.
 */
import type { ErrorRequestHandler } from 'express';
import type { Knex } from 'knex';
import { appendJournal } from '../journal/append.js';
import { logger } from '../logging/logger.js';
import { countAuthFailure, countJournalAppends } from '../metrics/auth-metrics.js';
import type { AuthFailureReason } from './auth-failure.js';
import { AuthFailure } from './auth-failure.js';

export interface AuthFailureRecord {
  status: number;
  reason: AuthFailureReason | 'invalid_client' | 'invalid_request' | 'unsupported_grant_type' | 'invalid_scope';
  detail: string;
  method: string;
  path: string;
  requestId: string;
  /** The authenticated principal (403); a 401 is journaled as `anonymous`. */
  actor?: string | undefined;
  /** Unverified identity hints of a refused credential (kid, iss, client id); never a secret. */
  claimed?: Record<string, string> | undefined;
}

export async function journalAuthFailure(db: Knex, record: AuthFailureRecord): Promise<void> {
  countAuthFailure(record.reason);
  try {
    await db.transaction((tx) =>
      appendJournal(tx, { name: record.actor ?? 'anonymous', source: 'auth', requestId: record.requestId }, [
        {
          action: record.status === 403 ? 'auth.forbidden' : 'auth.failed',
          reason: {
            status: record.status,
            code: record.reason,
            detail: record.detail,
            method: record.method,
            path: record.path,
            ...(record.claimed ? { claimed: record.claimed } : {}),
          },
        },
      ]),
    );
    countJournalAppends('auth', 1);
  } catch (error) {
    logger.error('could not journal an auth failure', { requestId: record.requestId, error: (error as Error).message });
  }
}

/** Error middleware placed before the error handler: journals AuthFailures, passes every error on. */
export function journalAuthFailures(db: Knex): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (!(error instanceof AuthFailure)) return next(error);
    const claimed = error.context.claimed;
    void journalAuthFailure(db, {
      status: error.status,
      reason: error.reason,
      detail: error.detail,
      method: req.method,
      path: req.originalUrl.split('?')[0] ?? '',
      requestId: String(res.locals.requestId ?? ''),
      actor: error.context.principal,
      claimed,
    }).finally(() => next(error));
  };
}
