import type { RequestHandler } from 'express';
import { requireAdmin } from './middleware';

/**
 * Who may do what, in one place. Everything after authenticate() needs a valid token;
 * these routes also need an admin client. Customer scoping of orders lives in the orders module.
 */
const ADMIN_ONLY: Array<{ methods: string[] | '*'; path: RegExp }> = [
  { methods: '*', path: /^\/inventory(\/|$)/ },
  { methods: '*', path: /^\/metrics\/?$/ },
  { methods: '*', path: /^\/admin(\/|$)/ },
  { methods: ['POST'], path: /^\/orders\/[^/]+\/refund\/?$/ },
  { methods: '*', path: /^\/events\/?$/ },
  { methods: ['POST', 'PUT', 'PATCH', 'DELETE'], path: /^\/categories(\/|$)/ },
  { methods: ['POST', 'PUT', 'PATCH', 'DELETE'], path: /^\/products(\/|$)/ },
];

export const adminOnlyRoutes: RequestHandler = (req, res, next) => {
  // Express matches routes regardless of letter case: so must the policy, or /Metrics slips past it.
  const path = req.path.toLowerCase();
  const rule = ADMIN_ONLY.find((r) => r.path.test(path) && (r.methods === '*' || r.methods.includes(req.method)));
  if (rule) return requireAdmin(req, res, next);
  next();
};
