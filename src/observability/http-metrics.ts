import type { Request, RequestHandler } from 'express';
import { httpRequestDuration } from './metrics';

/**
 * The route label: the matched route's template (`/orders/:id`), under its router's base path;
 * a mount point for what a router serves without routes (the dashboard's static files); and
 * `unmatched` for everything else (404s, and requests refused before routing: 401, 403). Never
 * the raw URL, so ids and query strings cannot multiply the series.
 */
export function routeLabel(req: Request): string {
  const template = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof template === 'string') return `${req.baseUrl ?? ''}${template}` || '/';
  if (req.baseUrl) return req.baseUrl;
  return 'unmatched';
}

/** Observes orderloop_http_request_duration_seconds for every response that finishes. */
export const httpMetrics: RequestHandler = (req, res, next) => {
  const end = httpRequestDuration.startTimer();
  let route = 'unmatched';
  // Express restores req.baseUrl and req.route as the request leaves a router, so the label is
  // taken when the response starts, while they still describe the route that answered.
  const writeHead = res.writeHead;
  res.writeHead = function (this: typeof res, ...args: unknown[]) {
    route = routeLabel(req);
    return (writeHead as (...a: unknown[]) => typeof res).apply(this, args);
  } as typeof res.writeHead;
  res.once('finish', () => end({ route, method: req.method, status: String(res.statusCode) }));
  next();
};
