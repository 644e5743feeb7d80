import express, { type Express } from 'express';
import pinoHttp from 'pino-http';
import type { AppContext } from './context';
import { errorMiddleware, notFoundMiddleware } from './http/error-middleware';
import { requestId } from './http/request-id';
import { healthRouter } from './modules/health';
import { authRouter, TOKEN_BODY_LIMIT } from './modules/auth';
import { authenticate } from './modules/auth';
import { adminOnlyRoutes } from './modules/auth';
import { ordersRouter } from './modules/orders';
import { catalogRouter } from './modules/catalog';
import { inventoryRouter } from './modules/inventory';
import { adminRouter } from './modules/admin';
import { eventsRouter } from './modules/events';
import { dashboardRouter } from './modules/admin';
import { httpMetrics } from './observability/http-metrics';
import { metricsRouter } from './observability/routes';
import { refuseLoneSurrogates } from './http/json-body';
import { securityHeaders } from './http/security-headers';

/** Builds the HTTP app without listening, so tests can drive it with supertest. */
export function buildApp(ctx: AppContext): Express {
  const app = express();
  app.disable('x-powered-by');
  // Off unless TRUST_PROXY says which proxies to believe: req.ip (rate limits) and req.secure
  // (security headers) would otherwise be whatever a client writes into X-Forwarded-*.
  app.set('trust proxy', ctx.config.http.trustProxy);
  app.use(httpMetrics);
  app.use(securityHeaders(ctx.config.http));

  app.use(
    pinoHttp({
      logger: ctx.logger,
      genReqId: requestId,
      // At the start of a request: its id. At its end, the order it created or read, when a route
      // named one (res.locals.orderId), so `grep <orderId>` finds the HTTP request too.
      customProps: (req, res) => {
        const orderId = (res as express.Response).locals?.orderId as string | undefined;
        return orderId ? { orderId } : { requestId: req.id };
      },
      autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/ready' },
      serializers: { req: (req) => ({ method: req.method, url: req.url }), res: (res) => ({ statusCode: res.statusCode }) },
    }),
  );
  const json = (limit: string) => express.json({ limit, strict: false, reviver: refuseLoneSurrogates });
  // POST /auth/token reads at most a few kB (each call may cost a hash); the general parser then finds its body already read.
  app.use('/auth/token', json(TOKEN_BODY_LIMIT));
  app.use(json(ctx.config.bodyLimit));

  app.use(healthRouter(ctx));
  app.use(dashboardRouter());
  app.use(authRouter(ctx, ctx.tokens));
  app.use(authenticate(ctx.tokens));
  app.use(adminOnlyRoutes);
  app.use(ordersRouter(ctx));
  app.use(catalogRouter(ctx));
  app.use(inventoryRouter(ctx));
  app.use(eventsRouter(ctx));
  app.use(adminRouter(ctx));
  app.use(metricsRouter(ctx));

  app.use(notFoundMiddleware);
  app.use(errorMiddleware);
  return app;
}
