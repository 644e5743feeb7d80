/** The auth module's door: API clients, tokens, the authentication middleware and the admin policy. */
export { authRouter, TOKEN_BODY_LIMIT } from './routes';
export { authenticate, principalOf, requireAdmin } from './middleware';
export { orderRateLimit } from './rate-limits';
export { adminOnlyRoutes } from './policy';
export { TokenService, type ClientRole, type Principal } from './tokens';
export { developmentJwtSecret } from './jwt-secret';
export { createClient, findClient, listClients, setClientDisabled } from './clients';
export { ApiClient, initAuthModels } from './models';
