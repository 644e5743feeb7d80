import path from 'node:path';
import express, { Router } from 'express';
import { ROOT_DIR } from '../../shared/paths';

/**
 * The operations dashboard's static files, served from the source folder (no build step: the
 * same files under `npm start`, `npm run dev` and the tests). The page itself is public; it asks
 * for an admin client's credentials and calls the JSON API with the token.
 */
export const DASHBOARD_DIR = path.join(ROOT_DIR, 'src', 'dashboard');

export function dashboardRouter(): Router {
  const router = Router();
  const noCache = (res: express.Response) => res.set('Cache-Control', 'no-cache');
  const page = (_req: express.Request, res: express.Response) => {
    noCache(res);
    res.sendFile('index.html', { root: DASHBOARD_DIR });
  };
  router.get('/dashboard', page);
  router.get('/dashboard/', page);
  router.use(
    '/dashboard',
    express.static(DASHBOARD_DIR, { index: false, redirect: false, dotfiles: 'deny', fallthrough: true, setHeaders: noCache }),
  );
  return router;
}
