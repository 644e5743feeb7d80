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
  'WEBHOOK_NOT_FOUND',
  'DELIVERY_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'INSUFFICIENT_STOCK',
  'ORDER_NOT_CANCELLABLE',
  'ORDER_NOT_REFUNDABLE',
  'DELIVERY_PENDING',
  'WEBHOOK_URL_NOT_ALLOWED',
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

/**
 * The 400 for text PostgreSQL cannot store (a NUL character, bytes that are not UTF-8): what
 * src/http answers when the database refuses a bound value, and what code that puts a value into
 * SQL text itself (Sequelize's WHERE) throws before the database can see it.
 */
export const unstorableText = () =>
  new AppError('VALIDATION_FAILED', 'The request is not valid', [
    { path: '(request)', message: 'text that cannot be stored: a NUL character or bytes that are not UTF-8' },
  ]);

/** Throws unstorableText() when any value holds a NUL (which Sequelize would write into SQL text as "\0"). */
export function refuseNul(...values: Array<string | undefined>): void {
  if (values.some((v) => v?.includes('\u0000'))) throw unstorableText();
}
