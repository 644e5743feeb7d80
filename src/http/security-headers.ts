import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { AppConfig } from '../config';

/**
 * helmet's headers, with the two that only make sense over TLS (HSTS and the CSP's
 * upgrade-insecure-requests) sent only when the request did arrive over TLS: the service is
 * told so (SERVED_OVER_HTTPS), or a trusted proxy says so (TRUST_PROXY + X-Forwarded-Proto:
 * https, which Express turns into req.secure). Sent over plain HTTP, they make a browser on
 * another host rewrite the dashboard's own requests to https, and the page breaks.
 */
export function securityHeaders(http: AppConfig['http']): RequestHandler {
  const overTls = helmet();
  const overPlainHttp = helmet({
    strictTransportSecurity: false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
  return (req, res, next) => (http.servedOverHttps || req.secure ? overTls : overPlainHttp)(req, res, next);
}
