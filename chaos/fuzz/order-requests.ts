import fc from 'fast-check';
import type { QueueInspector } from '../../src/queue/inspect';

/**
 * Property-based fuzzing of POST /orders/create, shared by the Jest suite
 * (tests/integration/fuzz-orders.test.ts, in-process app) and `npm run test:chaos` (the real
 * API process). Random and mutated bodies and headers; the property: never a 5xx (nor a dropped
 * connection), every 4xx is the API's error shape, and a 4xx writes nothing (the row counts of
 * every table a request could touch, and the stock totals, are the same before and after).
 */

export interface FuzzTokens {
  admin: string;
  /** A customer client's token and the customer it is bound to. */
  customer: string;
  customerId: string;
}

export interface FuzzRequest {
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface FuzzOptions {
  baseUrl: string;
  tokens: FuzzTokens;
  /** SKUs that exist, with plenty of stock. */
  skus: string[];
  numRuns: number;
  seed?: number;
  /** A snapshot of everything a request could write; compared around each 4xx. */
  snapshot(): Promise<string>;
}

export interface FuzzStats {
  requests: number;
  byStatus: Record<string, number>;
  byCode: Record<string, number>;
  seed: number;
}

/** Header values a client can actually send: visible ASCII (and space). */
const headerText = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

const nastyStrings = fc.constantFrom(
  '', ' ', '\u0000', 'a\u0000b', '\u0007', 'null', 'undefined', "'; DROP TABLE \"Orders\"; --", '"', '\\', '%00', '../../etc/passwd',
  '\uD800', '\uDFFF', '🙂', 'é', 'Ω'.repeat(64), 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(5000), '0', '-1', '1e309', 'NaN', 'EUR', 'eur',
  '__proto__', 'constructor', 'toString', '<script>alert(1)</script>', '${7*7}', '\r\n', '\t',
);

const weirdString = fc.oneof(
  { weight: 3, arbitrary: nastyStrings },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
);

const anyJson = fc.jsonValue({ maxDepth: 3 });

const quantity = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }) },
  { weight: 2, arbitrary: fc.integer({ min: -10, max: 2_000 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(0, -0, -1, 1.5, 1000, 1001, 2_147_483_648, Number.MAX_SAFE_INTEGER, 1e308, '2', '', null, true, [], {}, [1]) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: anyJson },
);

const productId = fc.oneof(
  fc.integer({ min: 1, max: 20 }),
  fc.integer(),
  fc.constantFrom<unknown>(0, -1, 2_147_483_647, 2_147_483_648, 1e20, 1.5, '1', null, true),
);

function itemArbitrary(skus: string[]): fc.Arbitrary<unknown> {
  const sku = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...skus) }, { weight: 2, arbitrary: weirdString }, { weight: 1, arbitrary: anyJson });
  return fc.oneof(
    { weight: 10, arbitrary: fc.record({ sku: fc.constantFrom(...skus), quantity: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 4, arbitrary: fc.record({ sku, quantity }) },
    { weight: 2, arbitrary: fc.record({ productId, quantity }) },
    { weight: 1, arbitrary: fc.record({ sku, productId, quantity }) },
    { weight: 1, arbitrary: fc.record({ quantity }) },
    { weight: 1, arbitrary: fc.record({ sku, quantity, note: anyJson }) },
    { weight: 1, arbitrary: anyJson },
  );
}

/** A valid order: known SKUs (each once), quantities 1-5, sometimes a currency. */
function validBody(skus: string[], customerIds: string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record({
      customerId: fc.constantFrom(...customerIds),
      items: fc.shuffledSubarray(skus, { minLength: 1, maxLength: Math.min(3, skus.length) }).chain((chosen) =>
        fc.tuple(...chosen.map((sku) => fc.record({ sku: fc.constant(sku), quantity: fc.integer({ min: 1, max: 5 }) })))),
      currency: fc.constantFrom('EUR', undefined),
    })
    .map((b) => (b.currency === undefined ? { customerId: b.customerId, items: b.items } : b));
}

/** A valid order with one thing wrong: a field replaced, removed or added, an item broken or repeated. */
function mutatedBody(skus: string[], customerIds: string[]): fc.Arbitrary<Record<string, unknown>> {
  const item = itemArbitrary(skus);
  const field = fc.constantFrom('customerId', 'items', 'currency');
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), field, value: fc.oneof(weirdString, anyJson) }),
    fc.record({ kind: fc.constant('delete' as const), field }),
    fc.record({ kind: fc.constant('extra' as const), key: weirdString, value: anyJson }),
    fc.record({ kind: fc.constant('item' as const), at: fc.nat(), value: item }),
    fc.record({ kind: fc.constant('repeat' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('quantity' as const), at: fc.nat(), value: quantity }),
  );
  return fc.tuple(validBody(skus, customerIds), mutation).map(([body, m]) => {
    const out: Record<string, unknown> = { ...body, items: [...(body.items as unknown[])] };
    const items = out.items as unknown[];
    switch (m.kind) {
      case 'set':
        out[m.field] = m.value;
        break;
      case 'delete':
        delete out[m.field];
        break;
      case 'extra':
        out[m.key] = m.value;
        break;
      case 'item':
        items[m.at % items.length] = m.value;
        break;
      case 'repeat':
        items.push(items[m.at % items.length]);
        break;
      case 'quantity':
        items[m.at % items.length] = { ...(items[m.at % items.length] as object), quantity: m.value };
        break;
    }
    return out;
  });
}

/** Bodies built from scratch: the right keys with good, bad and odd values, any of them missing, sometimes extra keys. */
function randomBody(skus: string[], customerIds: string[]): fc.Arbitrary<Record<string, unknown>> {
  const item = itemArbitrary(skus);
  const customerId = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...customerIds) }, { weight: 2, arbitrary: weirdString }, { weight: 1, arbitrary: anyJson });
  const items = fc.oneof(
    { weight: 8, arbitrary: fc.array(item, { minLength: 1, maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(item, { minLength: 0, maxLength: 12 }) },
    { weight: 1, arbitrary: fc.array(fc.record({ sku: fc.constantFrom(...skus), quantity: fc.constant(1) }), { minLength: 49, maxLength: 52 }) },
    { weight: 1, arbitrary: anyJson },
  );
  const currency = fc.oneof(fc.constantFrom<unknown>('EUR', 'USD', 'eur', 'EURO', '', 'E1R'), anyJson);
  return fc
    .tuple(
      fc.record({ customerId, items, currency }, { requiredKeys: [] }),
      fc.option(fc.dictionary(weirdString, anyJson, { maxKeys: 2 }), { freq: 6 }),
    )
    .map(([body, extra]) => ({ ...(extra ?? {}), ...body }));
}

function bodyObject(skus: string[], customerIds: string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc.oneof(
    { weight: 5, arbitrary: validBody(skus, customerIds) },
    { weight: 5, arbitrary: mutatedBody(skus, customerIds) },
    { weight: 3, arbitrary: randomBody(skus, customerIds) },
  );
}

/** One change to a serialised body: a character replaced, dropped or inserted, or the text cut short. */
const textMutation = fc.tuple(fc.constantFrom('replace', 'drop', 'insert', 'truncate', 'duplicate'), fc.nat(), fc.string({ minLength: 1, maxLength: 3 }));

function mutateText(text: string, [op, at, chars]: [string, number, string]): string {
  const i = text.length ? at % text.length : 0;
  switch (op) {
    case 'replace':
      return text.slice(0, i) + chars + text.slice(i + 1);
    case 'drop':
      return text.slice(0, i) + text.slice(i + 1);
    case 'insert':
      return text.slice(0, i) + chars + text.slice(i);
    case 'truncate':
      return text.slice(0, i);
    default:
      return text + text;
  }
}

function bodyText(skus: string[], customerIds: string[]): fc.Arbitrary<string | undefined> {
  const object = bodyObject(skus, customerIds);
  return fc.oneof(
    { weight: 12, arbitrary: object.map((b) => JSON.stringify(b)) },
    { weight: 4, arbitrary: fc.tuple(object, textMutation).map(([b, m]) => mutateText(JSON.stringify(b), m)) },
    { weight: 1, arbitrary: anyJson.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.constantFrom('', 'null', 'true', '0', '"x"', '[]', '{}', '{', '}', '{"customerId":', 'customerId=c&items=1', '\u0000', '{"a":1}{"b":2}') },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    // Past the body limit (100kb): 413, and nothing read.
    { weight: 1, arbitrary: object.map((b) => JSON.stringify({ ...b, padding: 'x'.repeat(120_000) })) },
    // Deep nesting.
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 3_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`) },
  );
}

function headersArbitrary(tokens: FuzzTokens): fc.Arbitrary<Record<string, string>> {
  const authorization = fc.oneof(
    { weight: 10, arbitrary: fc.constant(`Bearer ${tokens.admin}`) },
    { weight: 3, arbitrary: fc.constant(`Bearer ${tokens.customer}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constantFrom('Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `bearer ${tokens.admin}`, `Bearer ${tokens.admin}x`, `Bearer ${tokens.admin.slice(0, -3)}`, 'Bearer a.b.c'),
        headerText(100).map((s) => `Bearer ${s}`),
        headerText(60),
      ),
    },
  );
  const contentType = fc.oneof(
    { weight: 12, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset=nope', 'APPLICATION/JSON', 'application/vnd.api+json') },
    { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '*/*', '') },
    { weight: 1, arbitrary: headerText(40) },
  );
  const idempotencyKey = fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    // A small pool, so that keys repeat: replays, and reuse with another body.
    { weight: 4, arbitrary: fc.constantFrom('fuzz-key-1', 'fuzz-key-2', 'fuzz-key-3') },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.oneof(headerText(300), fc.constantFrom('', ' ', 'has space', 'x'.repeat(255), 'x'.repeat(256))) },
  );
  const contentEncoding = fc.oneof(
    { weight: 15, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip') },
  );
  const requestId = fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: headerText(200) });
  return fc
    .record({ authorization, contentType, idempotencyKey, contentEncoding, requestId })
    .map((h) => {
      const headers: Record<string, string> = {};
      if (h.authorization !== undefined) headers.Authorization = h.authorization;
      if (h.contentType) headers['Content-Type'] = h.contentType;
      if (h.idempotencyKey !== undefined) headers['Idempotency-Key'] = h.idempotencyKey;
      if (h.contentEncoding !== undefined) headers['Content-Encoding'] = h.contentEncoding;
      if (h.requestId !== undefined) headers['X-Request-Id'] = h.requestId;
      return headers;
    });
}

export function orderRequestArbitrary(tokens: FuzzTokens, skus: string[]): fc.Arbitrary<FuzzRequest> {
  const customerIds = [tokens.customerId, 'cust_001', 'fuzz-other_9'];
  return fc
    .record({
      path: fc.oneof({ weight: 9, arbitrary: fc.constant('/orders/create') }, { weight: 1, arbitrary: fc.constant('/orders') }),
      headers: headersArbitrary(tokens),
      body: bodyText(skus, customerIds),
    })
    .map((r) => (r.body === undefined ? { path: r.path, headers: r.headers } : r));
}

function describe(request: FuzzRequest): string {
  const body = request.body === undefined ? '(none)' : request.body.length > 400 ? `${request.body.slice(0, 400)}… (${request.body.length} chars)` : request.body;
  return `POST ${request.path} headers=${JSON.stringify(request.headers)} body=${JSON.stringify(body)}`;
}

export function newFuzzStats(seed?: number): FuzzStats {
  return { requests: 0, byStatus: {}, byCode: {}, seed: seed ?? Date.now() % 2_147_483_647 };
}

/**
 * Runs the property `numRuns` times, one request at a time (so the snapshots around a request
 * see only that request). Throws with fast-check's report (seed, shrunk counterexample) when it fails.
 */
export async function runOrderFuzz(options: FuzzOptions, stats: FuzzStats = newFuzzStats(options.seed)): Promise<FuzzStats> {
  const { seed } = stats;
  const property = fc.asyncProperty(orderRequestArbitrary(options.tokens, options.skus), async (request) => {
    const before = await options.snapshot();
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${options.baseUrl}${request.path}`, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(15_000),
      });
      status = res.status;
      text = await res.text();
    } catch (error) {
      throw new Error(`no answer (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}) to ${describe(request)}`, { cause: error });
    }
    stats.requests += 1;
    stats.byStatus[String(status)] = (stats.byStatus[String(status)] ?? 0) + 1;
    let code: string | undefined;
    let parsed: { error?: { code?: unknown; message?: unknown; requestId?: unknown } } | undefined;
    try {
      parsed = JSON.parse(text);
      code = typeof parsed?.error?.code === 'string' ? parsed.error.code : undefined;
    } catch {
      parsed = undefined;
    }
    if (code) stats.byCode[`${status} ${code}`] = (stats.byCode[`${status} ${code}`] ?? 0) + 1;
    if (status >= 500) throw new Error(`${status} ${text.slice(0, 300)} for ${describe(request)}`);
    if (status >= 400) {
      if (!code || typeof parsed?.error?.message !== 'string' || typeof parsed?.error?.requestId !== 'string') {
        throw new Error(`${status} without the error shape {error: {code, message, requestId}}: ${text.slice(0, 300)} for ${describe(request)}`);
      }
      const after = await options.snapshot();
      if (after !== before) throw new Error(`${status} ${code} wrote rows: ${before} -> ${after} for ${describe(request)}`);
    } else if (status !== 202) {
      throw new Error(`unexpected ${status} ${text.slice(0, 300)} for ${describe(request)}`);
    }
  });
  await fc.assert(property, { numRuns: options.numRuns, seed });
  return stats;
}

/** Everything a POST /orders/create could write, as one comparable string: the tables' counts and pg-boss's jobs. */
export async function writesSnapshot(query: (sql: string) => Promise<unknown[]>, jobs: QueueInspector): Promise<string> {
  const [tables] = await query(TABLES_SNAPSHOT_SQL);
  return JSON.stringify({ ...(tables as object), jobs: await jobs.totalJobs() });
}

const TABLES_SNAPSHOT_SQL = `
  SELECT (SELECT count(*) FROM "Orders") AS orders,
         (SELECT count(*) FROM "Order_Items") AS items,
         (SELECT count(*) FROM "Order_Logs") AS logs,
         (SELECT count(*) FROM "Payments") AS payments,
         (SELECT count(*) FROM "Stock_Reservations") AS reservations,
         (SELECT COALESCE(sum(stock_on_hand), 0) || '/' || COALESCE(sum(stock_reserved), 0) FROM "Products") AS stock`;
