import type { RequestHandler, Request } from 'express';
import { rateLimit } from 'express-rate-limit';
import { AppError } from '../../shared/errors';
import type { Principal, TokenService } from './tokens';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** Every route mounted after this one needs a valid bearer token. */
export function authenticate(tokens: TokenService): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('Authorization') ?? '';
    const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    res.set('WWW-Authenticate', 'Bearer realm="orderloop"');
    if (!match) {
      next(new AppError('UNAUTHORIZED', 'A bearer token is required: get one from POST /auth/token'));
      return;
    }
    const result = await tokens.verify(match[1]);
    if (result === 'expired') {
      next(new AppError('UNAUTHORIZED', 'The token has expired: get a new one from POST /auth/token', { reason: 'expired' }));
      return;
    }
    if (result === 'invalid') {
      next(new AppError('UNAUTHORIZED', 'The token is not valid', { reason: 'invalid' }));
      return;
    }
    res.removeHeader('WWW-Authenticate');
    req.principal = result;
    next();
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw new AppError('UNAUTHORIZED', 'A bearer token is required');
  return req.principal;
}

export const requireAdmin: RequestHandler = (req, _res, next) => {
  next(principalOf(req).role === 'admin' ? undefined : new AppError('FORBIDDEN', 'This needs an admin client'));
};

/** Per-client limit on order creation (in memory, per process). 0 per minute turns it off. */
export function orderRateLimit(perMinute: number): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => req.principal?.clientId ?? 'anonymous',
    handler: (_req, res, next) => {
      const retryAfter = res.getHeader('Retry-After') ?? '60';
      next(new AppError('RATE_LIMITED', `Too many orders: at most ${perMinute} per minute per client`, { limitPerMinute: perMinute }, { 'Retry-After': String(retryAfter) }));
    },
  });
}
