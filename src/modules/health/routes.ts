import { Router } from 'express';
import type { AppContext } from '../../context';
import { methodNotAllowed } from '../../shared/validate';

const CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error) => (clearTimeout(timer), reject(error)),
    );
  });
}

export function healthRouter(ctx: AppContext): Router {
  const router = Router();

  router.route('/health').get((_req, res) => {
    res.json({ status: 'ok', role: ctx.config.role, uptimeSeconds: Math.round(process.uptime()) });
  }).all(methodNotAllowed);

  router.route('/ready').get(async (_req, res) => {
    const checks = await Promise.allSettled([
      withTimeout(ctx.sequelize.authenticate(), CHECK_TIMEOUT_MS),
      withTimeout(ctx.queue.ping(), CHECK_TIMEOUT_MS),
    ]);
    const [database, queue] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'unavailable'));
    const ready = database === 'ok' && queue === 'ok';
    if (ready) {
      res.json({ status: 'ready', checks: { database, queue } });
      return;
    }
    const failing = Object.entries({ database, queue }).filter(([, s]) => s !== 'ok').map(([name]) => name);
    res.status(503).set('Retry-After', '5').json({
      error: {
        code: 'SERVICE_UNAVAILABLE',
        message: `Not ready: ${failing.join(' and ')} unavailable`,
        details: { checks: { database, queue } },
        requestId: _req.id,
      },
    });
  }).all(methodNotAllowed);

  return router;
}
