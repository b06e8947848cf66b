/** Query and body parameters of the ops API's JSON endpoints, checked, with SCIM errors that say what to send. */
import type { Request } from 'express';
import { LedgerError } from '../governance/ledger-actions.js';
import { ReviewError } from '../governance/review-open.js';
import { badGateway, conflict, invalidValue, notFound, ScimError, serviceUnavailable } from '../scim/errors.js';
import { parseDateTime } from '../scim/filter/match.js';

export function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidValue(`Give ${name} once, as a single value`);
  return value;
}

export function oneOf<T extends string>(req: Request, name: string, allowed: readonly T[]): T | undefined {
  const value = single(req, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw invalidValue(`${name} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value as T;
}

export function bodyString(req: Request, name: string, required: boolean): string | undefined {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidValue('The body must be a JSON object');
  const value = body[name];
  if (value === undefined || value === null) {
    if (required) throw invalidValue(`"${name}" is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw invalidValue(`"${name}" must be a string`);
  return value;
}

export function untilOf(text: string | undefined, name = 'until'): Date | undefined {
  if (text === undefined) return undefined;
  const parsed = parseDateTime(text.trim());
  if (!parsed) throw invalidValue(`"${name}" must be a date such as 2027-03-31 or a date-time such as 2027-03-31T18:00:00Z, not "${text}"`);
  return new Date(parsed.epochMs);
}

/** A governance refusal (ledger, reviews: their messages never hold secrets) as the SCIM error for its status. */
function governanceRefusal(status: 400 | 403 | 404 | 409 | 502 | 503, detail: string): ScimError {
  switch (status) {
    case 400:
      return invalidValue(detail);
    case 403:
      return new ScimError(403, undefined, detail);
    case 404:
      return notFound(detail);
    case 409:
      return conflict(detail);
    case 502:
      return badGateway(detail);
    case 503:
      return serviceUnavailable(detail);
  }
}

/** Runs a governance action; its refusal (ledger or review) becomes the SCIM error for its status. */
export async function governanceRefusals<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LedgerError || error instanceof ReviewError) throw governanceRefusal(error.status, error.message);
    throw error;
  }
}
