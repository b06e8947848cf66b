/**
 * Counts error responses by status and SCIM `scimType` (invalidFilter, uniqueness, …). It sits
 * just before the error handler and converts the error with the handler's own translation, so
 * the label is exactly what the client receives.
 */
import type { ErrorRequestHandler } from 'express';
import { Counter } from 'prom-client';
import { toScimError } from './errors.js';
import { metricsRegistry } from '../metrics/registry.js';

const scimErrors = new Counter({
  name: 'roster_scim_errors_total',
  help: 'Error responses by HTTP status and SCIM scimType ("none" when the error has no scimType)',
  labelNames: ['status', 'scimType'] as const,
  registers: [metricsRegistry],
});

export const countScimErrors: ErrorRequestHandler = (error, _req, res, next) => {
  const scimError = toScimError(error, String(res.locals.requestId ?? ''));
  scimErrors.inc({ status: String(scimError.status), scimType: scimError.scimType ?? 'none' });
  next(scimError);
};
