import type Joi from 'joi';
import type { RequestHandler } from 'express';
import { AppError, type ErrorDetail } from './errors';

/**
 * At most this many problems are listed in one 400; when there are more, `details` ends with one
 * extra entry `{"path": "(more)", "message": "…", "omitted": N}` that counts the rest.
 */
export const MAX_ERROR_DETAILS = 20;

/** Longest key or path segment echoed back in a detail: a key may be most of a 100 kB body. */
const MAX_ECHOED_KEY = 100;

/**
 * Validates `value` against `schema` (no coercion of types) or throws VALIDATION_FAILED, in two steps
 * so that a body costs one linear walk, and Joi's own work is bounded by the schema's limits:
 *
 * 1. A walk along the schema's shape checks the limits that bound size (strings' and arrays' `max`
 *    or `length`, objects' number of keys) and finds unknown keys. Any size problem stops validation
 *    there: only those are reported, and nothing inside an over-long array is looked at.
 * 2. Joi then validates what remains (unknown keys left out, each reported once by the walk).
 *
 * Unknown keys are found with Object.keys on the value as parsed, so every own key counts whatever
 * its name: Joi cannot see `__proto__` (its object clone drops it), and it is never a declared key,
 * so it is refused even where a schema allows unknown keys.
 */
export function validate<T>(schema: Joi.Schema<T>, value: unknown, options: Joi.ValidationOptions = {}): T {
  const prefs: Joi.ValidationOptions = { abortEarly: false, convert: false, ...options };
  const found: Found = { bounds: new Problems(), unknown: new Problems() };
  const rest = walk(planOf(schema), value, [], found, Boolean(prefs.allowUnknown || prefs.stripUnknown));
  if (found.bounds.count) throw invalid(found.bounds);
  const { value: result, error } = schema.validate(rest, prefs);
  if (error || found.unknown.count) {
    const problems = new Problems();
    for (const d of error?.details ?? []) problems.add(() => fromJoi(d));
    problems.addAll(found.unknown);
    throw invalid(problems);
  }
  return result as T;
}

/** The first MAX_ERROR_DETAILS problems, built; the others only counted (a body may hold thousands). */
class Problems {
  readonly listed: ErrorDetail[] = [];
  count = 0;

  add(detail: () => ErrorDetail): void {
    if (this.count++ < MAX_ERROR_DETAILS) this.listed.push(detail());
  }

  addAll(other: Problems): void {
    for (const d of other.listed) this.add(() => d);
    this.count += other.count - other.listed.length;
  }
}

/** The 400: the listed problems, then one entry counting the rest when there were more. */
function invalid(problems: Problems): AppError {
  const listed = [...problems.listed];
  const omitted = problems.count - listed.length;
  if (omitted > 0) {
    listed.push({ path: '(more)', message: `and ${omitted} more problem${omitted === 1 ? '' : 's'} not listed`, omitted });
  }
  return new AppError('VALIDATION_FAILED', 'The request is not valid', listed);
}

function fromJoi(d: Joi.ValidationErrorItem): ErrorDetail {
  if (d.type === 'object.unknown') return unknownKey(d.path.slice(0, -1), d.context?.key ?? String(d.path.at(-1)));
  return { path: pathText(d.path) || rootLabel(d) || '(body)', message: d.message.replace(/"/g, '') };
}

function unknownKey(parent: Path, key: string): ErrorDetail {
  return { path: pathText([...parent, key]), message: `unknown field ${JSON.stringify(shorten(key))}` };
}

/** A labelled single value (`schema.label('id')` on a path parameter or header) is reported under its label. */
function rootLabel(detail: Joi.ValidationErrorItem): string | undefined {
  const label = detail.context?.label;
  return label && label !== 'value' ? label : undefined;
}

type Path = Array<string | number>;

/** Dotted path; a segment that is empty or holds a dot is quoted, so `a.b` and `"a.b"` differ. */
function pathText(path: Path): string {
  return path.map((s) => (typeof s === 'number' || (s !== '' && !s.includes('.')) ? shorten(String(s)) : JSON.stringify(shorten(s)))).join('.');
}

function shorten(s: string): string {
  return s.length > MAX_ECHOED_KEY ? `${s.slice(0, MAX_ECHOED_KEY)}…` : s;
}

// ---- Step 1: the schema's shape, read once per schema from its public describe() ----

/** `allowUnknown`: set when the schema's own preferences say (they hold for everything inside it too). */
type Plan = { label?: string; allowUnknown?: boolean } & (
  | { kind: 'object'; keys: Map<string, Plan>; anyKeys: boolean; unknownFlag?: boolean; maxKeys?: number }
  | { kind: 'array'; max?: number; items?: Plan }
  | { kind: 'string'; max?: number; encoding?: BufferEncoding }
  | { kind: 'other' }
);

interface Described {
  type?: string;
  flags?: { label?: string; unknown?: boolean };
  preferences?: Joi.ValidationOptions;
  keys?: Record<string, Described>;
  items?: Described[];
  ordered?: unknown;
  patterns?: unknown;
  renames?: unknown;
  whens?: unknown;
  rules?: Array<{ name: string; args?: { limit?: unknown; encoding?: BufferEncoding } }>;
}

const plans = new WeakMap<Joi.Schema, Plan>();

function planOf(schema: Joi.Schema): Plan {
  let plan = plans.get(schema);
  if (!plan) {
    plan = planFrom(schema.describe() as Described);
    plans.set(schema, plan);
  }
  return plan;
}

/** The smallest `max` / `length` limit among the rules, if any is a plain number. */
function maxOf(d: Described): { max?: number; encoding?: BufferEncoding } {
  let max: number | undefined;
  let encoding: BufferEncoding | undefined;
  for (const rule of d.rules ?? []) {
    const limit = rule.args?.limit;
    if ((rule.name === 'max' || rule.name === 'length') && typeof limit === 'number' && (max === undefined || limit < max)) {
      max = limit;
      encoding = rule.args?.encoding;
    }
  }
  return { max, encoding };
}

function planFrom(d: Described): Plan {
  // Conditions (when) decide the shape at run time: leave such a value to Joi.
  if (d.whens) return { kind: 'other' };
  const label = d.flags?.label;
  const allow = d.preferences?.allowUnknown ?? d.preferences?.stripUnknown;
  const allowUnknown = allow === undefined ? undefined : Boolean(allow);
  const { max, encoding } = maxOf(d);
  switch (d.type) {
    case 'string':
      return { kind: 'string', label, allowUnknown, max, encoding };
    case 'array':
      return { kind: 'array', label, allowUnknown, max, items: d.items?.length === 1 && !d.ordered ? planFrom(d.items[0]) : undefined };
    case 'object': {
      const keys = new Map(Object.entries(d.keys ?? {}).map(([k, v]) => [k, planFrom(v)]));
      // As Joi decides: no keys declared (Joi.object()), or key patterns or renames, let other keys pass.
      const anyKeys = d.keys === undefined || d.patterns !== undefined || d.renames !== undefined;
      return { kind: 'object', label, allowUnknown, keys, anyKeys, unknownFlag: d.flags?.unknown, maxKeys: max };
    }
    default:
      return { kind: 'other', label, allowUnknown };
  }
}

interface Found {
  bounds: Problems;
  unknown: Problems;
}

function tooBig(found: Found, plan: { label?: string }, path: Path, what: string): void {
  found.bounds.add(() => {
    const shown = pathText(path);
    return { path: shown || plan.label || '(body)', message: `${plan.label ?? (shown || 'the body')} ${what}` };
  });
}

/**
 * Checks `value` against the plan's size limits and unknown keys; returns the value Joi should see:
 * the same one, or (only when an unknown key was found, so the request fails anyway) a copy without
 * the unknown keys. `allowUnknown` is the preference inherited from the options and enclosing schemas.
 */
function walk(plan: Plan, value: unknown, path: Path, found: Found, inheritedAllowUnknown: boolean): unknown {
  const allowUnknown = plan.allowUnknown ?? inheritedAllowUnknown;
  switch (plan.kind) {
    case 'string':
      if (typeof value === 'string' && plan.max !== undefined) {
        const length = plan.encoding ? Buffer.byteLength(value, plan.encoding) : value.length;
        if (length > plan.max) tooBig(found, plan, path, `is too long: ${length} ${plan.encoding ? 'bytes' : 'characters'}, at most ${plan.max}`);
      }
      return value;
    case 'array': {
      if (!Array.isArray(value)) return value;
      if (plan.max !== undefined && value.length > plan.max) {
        tooBig(found, plan, path, `has too many entries: ${value.length}, at most ${plan.max}`);
        return value;
      }
      const { items } = plan;
      if (!items) return value;
      let copy: unknown[] | undefined;
      value.forEach((item, i) => {
        const checked = walk(items, item, [...path, i], found, allowUnknown);
        if (checked !== item) (copy ??= [...value])[i] = checked;
      });
      return copy ?? value;
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
      const record = value as Record<string, unknown>;
      // Own keys, as JSON.parse made them: "__proto__" is one of them.
      const keys = Object.keys(record);
      if (plan.maxKeys !== undefined && keys.length > plan.maxKeys) {
        tooBig(found, plan, path, `has too many fields: ${keys.length}, at most ${plan.maxKeys}`);
        return value;
      }
      // Joi's rule: the object's own unknown() flag, else the preference.
      const open = plan.anyKeys || (plan.unknownFlag ?? allowUnknown);
      let copy: Record<string, unknown> | undefined;
      const known: Array<[string, unknown]> = [];
      for (const key of keys) {
        const child = plan.keys.get(key);
        if (key === '__proto__' || (!child && !open)) {
          found.unknown.add(() => unknownKey(path, key));
          copy ??= {};
          continue;
        }
        const v = record[key];
        const checked = child ? walk(child, v, [...path, key], found, allowUnknown) : v;
        if (checked !== v) copy ??= {};
        known.push([key, checked]);
      }
      if (!copy) return value;
      for (const [key, v] of known) copy[key] = v;
      return copy;
    }
    default:
      return value;
  }
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
