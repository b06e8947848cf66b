/** What an app needs to handle refused credentials: the per-address limit and the counting journal. */
import type { Knex } from 'knex';
import { AuthFailureJournal } from './failure-journal.js';
import { DEFAULT_REFUSAL_LIMIT, RefusalLimiter } from './refusal-limiter.js';

export interface RefusedCredentials {
  journal: AuthFailureJournal;
  limiter: RefusalLimiter;
}

export interface RefusedCredentialSettings {
  perMinute: number;
  burst: number;
  journalWindowSeconds: number;
}

export const DEFAULT_REFUSED_CREDENTIAL_SETTINGS: RefusedCredentialSettings = { ...DEFAULT_REFUSAL_LIMIT, journalWindowSeconds: 60 };

export function refusedCredentials(db: Knex, settings: RefusedCredentialSettings = DEFAULT_REFUSED_CREDENTIAL_SETTINGS): RefusedCredentials {
  return {
    journal: new AuthFailureJournal(db, settings.journalWindowSeconds),
    limiter: new RefusalLimiter({ perMinute: settings.perMinute, burst: settings.burst }),
  };
}
