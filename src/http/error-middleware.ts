import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ConnectionError, TimeoutError } from 'sequelize';
import { AppError, unstorableText } from '../shared/errors';
import { httpStatusOf } from './errors';
import { NotUnicodeError } from './json-body';

const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006']);
const NET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

/**
 * Text PostgreSQL cannot store, which can only have come from the request: 22021 (a NUL
 * character, or bytes that are not UTF-8, e.g. a SKU "\u0000" in an order) and 22P05.
 */
const PG_BAD_TEXT = new Set(['22021', '22P05']);

function errorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; parent?: { code?: unknown }; original?: { code?: unknown } };
  const code = e?.parent?.code ?? e?.original?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when an error means "the database (or another dependency) is down", not "the code is wrong". */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof ConnectionError || error instanceof TimeoutError) return true;
  const code = errorCode(error);
  if (code && (PG_UNAVAILABLE.has(code) || NET_UNAVAILABLE.has(code))) return true;
  const message = (error as { message?: unknown })?.message;
  if (typeof message !== 'string') return false;
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|ResourceRequest timed out/i.test(message);
}

/** Turns anything thrown into an AppError; body-parser and dependency failures get their own codes. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const e = error as { type?: string; status?: number; expose?: boolean };
  if (error instanceof NotUnicodeError) {
    return new AppError('VALIDATION_FAILED', 'The request is not valid', [{ path: error.key || '(body)', message: error.message }]);
  }
  if (e?.type === 'entity.parse.failed') return new AppError('INVALID_JSON', 'The request body is not valid JSON');
  if (e?.type === 'entity.too.large') return new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large');
  if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') {
    return new AppError('UNSUPPORTED_MEDIA_TYPE', 'The request body encoding is not supported');
  }
  // The router's own 400 for a path like /orders/%E0%A4%A (not an http-error, so it has no `expose`).
  if (error instanceof URIError) return new AppError('VALIDATION_FAILED', 'The request path is not valid percent-encoding');
  if (PG_BAD_TEXT.has(errorCode(error) ?? '')) return unstorableText();
  if (isUnavailable(error)) return new AppError('SERVICE_UNAVAILABLE', 'A dependency is unavailable; try again shortly', undefined, { 'Retry-After': '5' });
  if (e?.status && e.status >= 400 && e.status < 500 && e.expose) {
    return new AppError('VALIDATION_FAILED', 'The request could not be read');
  }
  return new AppError('INTERNAL', 'Something went wrong on our side');
}

export const errorMiddleware: ErrorRequestHandler = (error, req, res, next) => {
  const appError = toAppError(error);
  const log = req.log;
  const status = httpStatusOf(appError.code);
  // A 5xx the code chose (load shedding, a mock that is down) is a decision, not a bug: no stack.
  // Under overload, a stack-trace line per refused order cost CPU the service was short of.
  if (status >= 500 && error instanceof AppError) log?.warn({ code: appError.code, details: appError.details }, appError.message);
  else if (status >= 500) log?.error({ err: error, code: appError.code }, 'request failed');
  else log?.info({ code: appError.code }, appError.message);
  if (res.headersSent) {
    // Too late for an error body: Express's final handler destroys the socket, so the client
    // sees a broken response instead of waiting for one that never ends.
    next(error);
    return;
  }
  if (appError.headers) res.set(appError.headers);
  res.status(httpStatusOf(appError.code)).json({
    error: {
      code: appError.code,
      message: appError.message,
      ...(appError.details ? { details: appError.details } : {}),
      requestId: req.id,
    },
  });
};

export const notFoundMiddleware: RequestHandler = (req, _res, next) => {
  next(new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}`));
};
