/**
 * JSON.parse accepts "\udfff" (half of a UTF-16 surrogate pair), but such text is not Unicode:
 * PostgreSQL refuses it in text and jsonb, so it must be turned away at the door as bad input.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Thrown by the body reviver; body-parser keeps the instance, so the error middleware can tell it apart. */
export class NotUnicodeError extends Error {
  constructor(readonly path: string) {
    super('text that is not valid Unicode (a lone UTF-16 surrogate)');
    this.name = 'NotUnicodeError';
  }
}

/** A JSON.parse reviver for express.json that refuses lone surrogates in keys and string values. */
export function refuseLoneSurrogates(key: string, value: unknown): unknown {
  if (LONE_SURROGATE.test(key) || (typeof value === 'string' && LONE_SURROGATE.test(value))) {
    throw new NotUnicodeError(key);
  }
  return value;
}
