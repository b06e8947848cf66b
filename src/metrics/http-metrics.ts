/**
 * Request counts and latency by route template (`/scim/v2/Users/:id`, never the raw path, so
 * ids and filters neither blow up the label set nor leak into metrics) and status code.
 * Express resets req.baseUrl when an error leaves a router, so `authenticate` records the mount
 * in res.locals.routeBase; requests that match no route are labelled by mount (`/scim/v2/*`) or
 * `unmatched`.
 */
import type { Request, RequestHandler, Response } from 'express';
import { Counter, Histogram } from 'prom-client';
import { metricsRegistry } from './registry.js';

const requests = new Counter({
  name: 'roster_http_requests_total',
  help: 'HTTP requests answered, by method, route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [metricsRegistry],
});

const latency = new Histogram({
  name: 'roster_http_request_duration_seconds',
  help: 'Time from receiving a request to the end of its response, by method, route template and status class',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
});

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function routeTemplate(req: Request, res: Response): string {
  const base = (res.locals.routeBase as string | undefined) ?? req.baseUrl;
  const route = req.route as { path?: string | string[] } | undefined;
  if (route?.path !== undefined) {
    const path = Array.isArray(route.path) ? route.path[0] ?? '' : route.path;
    return `${base}${path}` || '/';
  }
  return base ? `${base}/*` : 'unmatched';
}

export const httpMetrics: RequestHandler = (req, res, next) => {
  const stop = latency.startTimer();
  res.on('finish', () => {
    const labels = { method: KNOWN_METHODS.has(req.method) ? req.method : 'OTHER', route: routeTemplate(req, res), status: String(res.statusCode) };
    requests.inc(labels);
    stop(labels);
  });
  next();
};
