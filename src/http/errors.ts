/**
 * The one place errors become responses. Client mistakes are ScimErrors with their own status;
 * body-parser failures are translated here; storage failures become 503 (database unreachable) or
 * 500, logged with the request id, with no internals in the response.
 */
import type { ErrorRequestHandler } from 'express';
import { logger } from '../logging/logger.js';
import { internalError, invalidSyntax, invalidValue, payloadTooLarge, ScimError, serviceUnavailable } from '../scim/errors.js';
import { sendScim } from './scim-response.js';

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '53300', '08006', '08001', '08003']);

function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; name?: string; message?: string };
  return (e.code !== undefined && UNAVAILABLE_CODES.has(e.code)) || e.name === 'KnexTimeoutError';
}

export function toScimError(error: unknown, requestId: string): ScimError {
  if (error instanceof ScimError) return error;
  const e = error as { type?: string; status?: number; expose?: boolean };
  if (e.type === 'entity.too.large') return payloadTooLarge('The request body is larger than this server accepts (see maxPayloadSize in /ServiceProviderConfig)');
  if (e.type === 'entity.parse.failed') return invalidSyntax('The request body is not valid JSON');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return invalidSyntax('Unsupported request body encoding; send UTF-8 JSON');
  // The router's own decoder of path parameters; input-rules.ts refuses such paths first.
  if (error instanceof URIError) return invalidValue('A URL path segment is not valid percent-encoded UTF-8');
  if (e.type === 'request.aborted') return invalidSyntax('The request body was not received completely');
  if (isDatabaseUnavailable(error)) {
    logger.error('database unavailable', { requestId, error: (error as Error).message });
    return serviceUnavailable(`The database is unavailable; retry later (request ${requestId})`, '5');
  }
  // The message and code locate the fault; stack traces stay out of logs as well as responses.
  logger.error('unexpected error', { requestId, error: (error as Error)?.message, code: (error as { code?: string })?.code });
  return internalError(`Internal error; the server log has details under request id ${requestId}`);
}

export const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
  const scimError = toScimError(error, String(res.locals.requestId ?? ''));
  if (res.headersSent) return;
  for (const [name, value] of Object.entries(scimError.headers)) res.setHeader(name, value);
  sendScim(res, scimError.status, scimError.toJSON());
};
