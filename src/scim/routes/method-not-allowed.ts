import type { RequestHandler } from 'express';
import { ScimError } from '../errors.js';

export function methodNotAllowed(allowed: string): RequestHandler {
  return (req, _res, next) => {
    next(new ScimError(405, undefined, `${req.method} is not supported here; allowed: ${allowed}`, { Allow: allowed }));
  };
}
