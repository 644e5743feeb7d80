import { AppError } from './errors';

/** Opaque page cursors: the sort key of the last row of a page, as base64url JSON. */
export function encodeCursor(parts: unknown[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** Decodes a cursor this API gave out; `read` returns null when the parts are not what it expects. */
export function decodeCursor<T>(cursor: string, read: (parts: unknown[]) => T | null): T {
  let value: T | null;
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    value = Array.isArray(parts) ? read(parts) : null;
  } catch {
    value = null;
  }
  if (value === null) {
    throw new AppError('VALIDATION_FAILED', 'The request is not valid', [{ path: 'cursor', message: 'cursor is not one this API gave out' }]);
  }
  return value;
}
