import type { RequestHandler } from 'express';
import { logger } from '../logging/logger.js';

/** One log line per request: method, path without query (filters may hold personal data), status, latency. */
export const accessLog: RequestHandler = (req, res, next) => {
  // Building the line costs measurable time per request; skip it when nobody reads it.
  if (!logger.isLevelEnabled('http')) return next();
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    logger.http('request', {
      requestId: res.locals.requestId,
      method: req.method,
      path: req.originalUrl.split('?')[0],
      status: res.statusCode,
      ms: Number(process.hrtime.bigint() - started) / 1e6,
      principal: (res.locals.principal as { name?: string } | undefined)?.name,
    });
  });
  next();
};
