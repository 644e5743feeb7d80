/**
 * JSON.parse accepts "\udfff" (half of a UTF-16 surrogate pair), but such text is not Unicode:
 * PostgreSQL refuses it in text and jsonb, so it must be turned away at the door as bad input.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Thrown by the body reviver. body-parser keeps the instance (so the error middleware can tell it
 * apart) but deletes its own properties and rewrites nothing else, so the key lives in a private field.
 */
export class NotUnicodeError extends Error {
  readonly #key: string;

  constructor(key: string) {
    super(`text that is not valid Unicode (half of a UTF-16 surrogate pair) in ${key ? `"${key}"` : 'the body'}`);
    this.name = 'NotUnicodeError';
    this.#key = key;
  }

  /** The field name (or array index) whose name or value holds the bad text; '' for the whole body. */
  get key(): string {
    return this.#key;
  }
}

/** A JSON.parse reviver for express.json that refuses lone surrogates in keys and string values. */
export function refuseLoneSurrogates(key: string, value: unknown): unknown {
  if (LONE_SURROGATE.test(key)) throw new NotUnicodeError('(a field name)');
  if (typeof value === 'string' && LONE_SURROGATE.test(value)) throw new NotUnicodeError(key);
  return value;
}
