/** The auth module's door: API clients, tokens, the authentication middleware and the admin policy. */
export { authRouter } from './routes';
export { authenticate, principalOf, requireAdmin, orderRateLimit } from './middleware';
export { adminOnlyRoutes } from './policy';
export { TokenService, type ClientRole, type Principal } from './tokens';
export { developmentJwtSecret } from './jwt-secret';
export { createClient, findClient } from './clients';
export { ApiClient, initAuthModels } from './models';
