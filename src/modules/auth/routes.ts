import express, { Router } from 'express';
import Joi from 'joi';
import type { AppContext } from '../../context';
import { AppError, refuseNul } from '../../shared/errors';
import { methodNotAllowed, validate } from '../../shared/validate';
import { findClient } from './clients';
import { DUMMY_HASH, verifySecret } from './secrets';
import type { TokenService } from './tokens';

const tokenRequestSchema = Joi.object<{ grant_type?: string; client_id: string; client_secret: string }>({
  grant_type: Joi.string().valid('client_credentials'),
  client_id: Joi.string().min(1).max(64).required(),
  client_secret: Joi.string().min(1).max(200).required(),
}).unknown(false);

/** POST /auth/token: OAuth2 client-credentials style, JSON or form-encoded. */
export function authRouter(ctx: AppContext, tokens: TokenService): Router {
  const router = Router();
  router
    .route('/auth/token')
    .post(express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
      const input = validate(tokenRequestSchema, req.body ?? {});
      // A 400 like any text the database cannot store, not a 401.
      refuseNul(input.client_id);
      const client = await findClient(input.client_id);
      // Same work and the same answer whether the client exists or not.
      const valid = await verifySecret(input.client_secret, client?.secretHash ?? DUMMY_HASH);
      if (!client || !valid || client.disabledAt) {
        throw new AppError('UNAUTHORIZED', 'Unknown client or wrong secret', { reason: 'invalid_client' });
      }
      const accessToken = await tokens.issue({ clientId: client.clientId, role: client.role, customerId: client.customerId });
      res.set('Cache-Control', 'no-store').json({ access_token: accessToken, token_type: 'Bearer', expires_in: tokens.ttlSeconds });
    })
    .all(methodNotAllowed);
  return router;
}
