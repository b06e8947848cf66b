import type { RequestHandler } from 'express';
import { methodNotAllowed } from '../errors.js';

export function refuseOtherMethods(allowed: string): RequestHandler {
  return (req, _res, next) => {
    next(methodNotAllowed(`${req.method} is not supported here; allowed: ${allowed}`, allowed));
  };
}
