/** Machine-readable error codes a client can rely on; src/http/errors.ts maps each to its HTTP status. */
export const ERROR_CODES = Object.freeze([
  'VALIDATION_FAILED',
  'INVALID_JSON',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'ORDER_NOT_FOUND',
  'PRODUCT_NOT_FOUND',
  'CATEGORY_NOT_FOUND',
  'SYNC_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'INSUFFICIENT_STOCK',
  'ORDER_NOT_CANCELLABLE',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNKNOWN_PRODUCT',
  'IDEMPOTENCY_KEY_REUSED',
  'CURRENCY_MISMATCH',
  'RATE_LIMITED',
  'INTERNAL',
  'SERVICE_UNAVAILABLE',
] as const);

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetail {
  path?: string;
  message: string;
  [key: string]: unknown;
}

/**
 * The one domain error: modules throw it with a code a client can rely on; only src/http knows
 * which HTTP status each code becomes.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[] | Record<string, unknown>[] | Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}
