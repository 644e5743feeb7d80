import type { Request, RequestHandler, Response } from 'express';
import { rateLimit, type Options } from 'express-rate-limit';
import { AppError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';

/**
 * A fixed one-minute window per key, in this process's memory: N API processes allow up to N times
 * the limit. Over the limit the request never reaches the next handler: it is answered
 * 429 RATE_LIMITED with Retry-After (seconds until the window resets). `perMinute` 0 turns it off.
 */
function perMinuteLimit(
  perMinute: number,
  message: string,
  options: Partial<Pick<Options, 'keyGenerator' | 'skipSuccessfulRequests' | 'requestWasSuccessful' | 'standardHeaders' | 'logger'>>,
): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: false,
    legacyHeaders: false,
    ...options,
    handler: (req, _res, next) => {
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : 60;
      next(new AppError('RATE_LIMITED', message, { limitPerMinute: perMinute }, { 'Retry-After': String(retryAfter) }));
    },
  });
}

/** Per-client limit on order creation. */
export function orderRateLimit(perMinute: number): RequestHandler {
  return perMinuteLimit(perMinute, `Too many orders: at most ${perMinute} per minute per client`, {
    standardHeaders: 'draft-7',
    keyGenerator: (req) => req.principal?.clientId ?? 'anonymous',
  });
}

/**
 * POST /auth/token per client address (req.ip: the socket's, or X-Forwarded-For's as far as
 * TRUST_PROXY believes it; IPv6 by /56 as express-rate-limit groups it). Every request counts,
 * and it runs before the body is read, so a flood from one host costs no hashing.
 */
export function tokenRateLimitPerIp(perMinute: number, logger: Logger): RequestHandler {
  return perMinuteLimit(perMinute, `Too many sign-in attempts from this address: at most ${perMinute} per minute`, { logger });
}

/**
 * POST /auth/token per client_id, counting only wrong credentials (401): a client's good
 * sign-ins never use up its budget. Each attempt is counted when it arrives (and given back
 * unless it ends in 401), so attempts in flight count too, and a client_id over the limit is
 * refused before its secret is looked up or hashed, even with the right secret.
 */
export function tokenFailureLimitPerClient(perMinute: number, clientIdOf: (req: Request, res: Response) => string, logger: Logger): RequestHandler {
  return perMinuteLimit(perMinute, `Too many failed sign-ins for this client_id: at most ${perMinute} per minute`, {
    keyGenerator: clientIdOf,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    logger,
  });
}
