import express, { Router, type Express } from 'express';
import { AggregatorRegistry } from 'prom-client';
import type { AppContext } from '../context';
import { methodNotAllowed } from '../shared/validate';
import { listen, type RunningServer } from '../shared/http-server';
import { metricsRegistryOf } from './service-metrics';

async function sendMetrics(ctx: AppContext, res: express.Response): Promise<void> {
  const own = metricsRegistryOf(ctx);
  // The job threads count their own orders, payments, syncs and deliveries: added to this thread's series.
  const registry = ctx.jobThreads?.length
    ? AggregatorRegistry.aggregate([await own.getMetricsAsJSON(), ...(await Promise.all(ctx.jobThreads.map((thread) => thread.metrics())))])
    : own;
  const body = await registry.metrics();
  res.set('Content-Type', registry.contentType).set('Cache-Control', 'no-store').send(body);
}

/** GET /metrics on the API port; the admin-only policy (src/modules/auth/policy.ts) guards it. */
export function metricsRouter(ctx: AppContext): Router {
  const router = Router();
  router.route('/metrics').get(async (_req, res) => sendMetrics(ctx, res)).all(methodNotAllowed);
  return router;
}

/**
 * The METRICS_PORT server: GET /metrics without authentication, for a Prometheus that scrapes
 * inside a private network (bind it where only that network reaches). Nothing else is served.
 */
export function buildMetricsApp(ctx: AppContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res, next) => {
    try {
      await sendMetrics(ctx, res);
    } catch (error) {
      next(error);
    }
  });
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found: this port serves GET /metrics only\n');
  });
  app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    ctx.logger.error({ err: error }, 'metrics server: scrape failed');
    if (!res.headersSent) res.status(500).type('text/plain').send('metrics unavailable\n');
  });
  return app;
}

export async function startMetricsServer(ctx: AppContext, port: number, host = '0.0.0.0'): Promise<RunningServer> {
  return listen(buildMetricsApp(ctx), port, host);
}
