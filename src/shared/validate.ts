import type Joi from 'joi';
import type { RequestHandler } from 'express';
import { AppError } from './errors';

/** Validates `value` against `schema` (no coercion of types) or throws VALIDATION_FAILED with one detail per problem. */
export function validate<T>(schema: Joi.Schema<T>, value: unknown, options: Joi.ValidationOptions = {}): T {
  const { value: result, error } = schema.validate(value, { abortEarly: false, convert: false, ...options });
  if (error) {
    throw new AppError(
      'VALIDATION_FAILED',
      'The request is not valid',
      error.details.map((d) => ({ path: d.path.join('.') || rootLabel(d) || '(body)', message: d.message.replace(/"/g, '') })),
    );
  }
  return result as T;
}

/** A labelled single value (`schema.label('id')` on a path parameter or header) is reported under its label. */
function rootLabel(detail: Joi.ValidationErrorItem): string | undefined {
  const label = detail.context?.label;
  return label && label !== 'value' ? label : undefined;
}

/** Answers 405 with the allowed methods for a path that exists under another method. */
export const methodNotAllowed: RequestHandler = (req, res, next) => {
  const methods = Object.keys((req.route as { methods?: Record<string, boolean> } | undefined)?.methods ?? {})
    .filter((m) => m !== '_all')
    .map((m) => m.toUpperCase());
  // Express answers HEAD wherever it answers GET.
  if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
  res.set('Allow', methods.join(', '));
  next(new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}`, { allowed: methods }));
};
