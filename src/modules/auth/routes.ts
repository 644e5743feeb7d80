import express, { Router, type RequestHandler, type Response } from 'express';
import Joi from 'joi';
import type { AppContext } from '../../context';
import { AppError, refuseNul } from '../../shared/errors';
import { methodNotAllowed, validate } from '../../shared/validate';
import { findClient } from './clients';
import { tokenFailureLimitPerClient, tokenRateLimitPerIp } from './rate-limits';
import { DUMMY_HASH, verifySecret } from './secrets';
import type { TokenService } from './tokens';

/** The largest POST /auth/token body, JSON or form (a request that fits the schema is well under 1 kB). */
export const TOKEN_BODY_LIMIT = '4kb';

interface TokenRequest {
  grant_type?: string;
  client_id: string;
  client_secret: string;
}

const tokenRequestSchema = Joi.object<TokenRequest>({
  grant_type: Joi.string().valid('client_credentials'),
  client_id: Joi.string().min(1).max(64).required(),
  client_secret: Joi.string().min(1).max(200).required(),
}).unknown(false);

const tokenRequestOf = (res: Response): TokenRequest => res.locals.tokenRequest as TokenRequest;

const readTokenRequest: RequestHandler = (req, res, next) => {
  const input = validate(tokenRequestSchema, req.body ?? {});
  // A 400 like any text the database cannot store, not a 401.
  refuseNul(input.client_id);
  res.locals.tokenRequest = input;
  next();
};

/**
 * At most `max` sign-ins look up their client and verify its secret at once (each scrypt takes
 * 16 MiB and a libuv thread for tens of ms); beyond that, 503 at once rather than a queue that
 * delays every sign-in behind a flood.
 */
function verificationSlots(max: number) {
  let busy = 0;
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (busy >= max) {
      throw new AppError('SERVICE_UNAVAILABLE', 'Too many sign-ins at once; try again shortly', { maxConcurrentVerifications: max }, { 'Retry-After': '1' });
    }
    busy += 1;
    try {
      return await work();
    } finally {
      busy -= 1;
    }
  };
}

/**
 * POST /auth/token: OAuth2 client-credentials style, JSON or form-encoded. Cheapest refusals
 * first: the per-address limit, the body limit, the schema, the per-client_id failure limit, the
 * cap on verifications at once; only then the client's lookup and its secret's hash.
 */
export function authRouter(ctx: AppContext, tokens: TokenService): Router {
  const { auth } = ctx.config;
  const inVerificationSlot = verificationSlots(auth.maxConcurrentVerifications);
  const router = Router();
  router
    .route('/auth/token')
    .post(
      tokenRateLimitPerIp(auth.tokenRateLimitPerIpPerMinute, ctx.logger),
      express.urlencoded({ extended: false, limit: TOKEN_BODY_LIMIT }),
      readTokenRequest,
      tokenFailureLimitPerClient(auth.tokenRateLimitPerClientPerMinute, (_req, res) => tokenRequestOf(res).client_id, ctx.logger),
      async (_req, res) => {
        const input = tokenRequestOf(res);
        const client = await inVerificationSlot(async () => {
          const found = await findClient(input.client_id);
          // Same work and the same answer whether the client exists or not.
          const valid = await verifySecret(input.client_secret, found?.secretHash ?? DUMMY_HASH);
          return valid ? found : null;
        });
        if (!client || client.disabledAt) {
          throw new AppError('UNAUTHORIZED', 'Unknown client or wrong secret', { reason: 'invalid_client' });
        }
        const accessToken = await tokens.issue({ clientId: client.clientId, role: client.role, customerId: client.customerId });
        res.set('Cache-Control', 'no-store').json({ access_token: accessToken, token_type: 'Bearer', expires_in: tokens.ttlSeconds });
      },
    )
    .all(methodNotAllowed);
  return router;
}
