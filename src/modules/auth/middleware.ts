import type { RequestHandler, Request } from 'express';
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
    if (result === 'disabled') {
      next(new AppError('UNAUTHORIZED', 'The client of this token has been disabled', { reason: 'client_disabled' }));
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
