import { createProduct, rowCounts, startTestApp, type TestApp } from '../helpers/test-app';

describe('POST /orders/create with bad input', () => {
  let t: TestApp;
  let sku: string;
  let productId: number;
  beforeAll(async () => {
    t = await startTestApp();
    ({ sku, id: productId } = await createProduct({ stock: 3 }));
  });
  afterAll(async () => {
    await t.stop();
  });

  const item = (extra: Record<string, unknown> = {}) => ({ sku, quantity: 1, ...extra });
  const cases: Array<[string, () => unknown, number, string]> = [
    ['missing customerId', () => ({ items: [item()] }), 400, 'VALIDATION_FAILED'],
    ['missing items', () => ({ customerId: 'c1' }), 400, 'VALIDATION_FAILED'],
    ['items not an array', () => ({ customerId: 'c1', items: 'lots' }), 400, 'VALIDATION_FAILED'],
    ['customerId a number', () => ({ customerId: 42, items: [item()] }), 400, 'VALIDATION_FAILED'],
    ['quantity 0', () => ({ customerId: 'c1', items: [item({ quantity: 0 })] }), 400, 'VALIDATION_FAILED'],
    ['quantity -1', () => ({ customerId: 'c1', items: [item({ quantity: -1 })] }), 400, 'VALIDATION_FAILED'],
    ['quantity 1.5', () => ({ customerId: 'c1', items: [item({ quantity: 1.5 })] }), 400, 'VALIDATION_FAILED'],
    ['quantity "2"', () => ({ customerId: 'c1', items: [item({ quantity: '2' })] }), 400, 'VALIDATION_FAILED'],
    ['quantity 1e12', () => ({ customerId: 'c1', items: [item({ quantity: 1e12 })] }), 400, 'VALIDATION_FAILED'],
    ['0 items', () => ({ customerId: 'c1', items: [] }), 400, 'VALIDATION_FAILED'],
    ['51 items', () => ({ customerId: 'c1', items: Array.from({ length: 51 }, (_, i) => ({ sku: `S-${i}`, quantity: 1 })) }), 400, 'VALIDATION_FAILED'],
    ['the same SKU twice', () => ({ customerId: 'c1', items: [item(), item()] }), 400, 'VALIDATION_FAILED'],
    ['one product named by sku and by productId', () => ({ customerId: 'c1', items: [item(), { productId: productId, quantity: 1 }] }), 400, 'VALIDATION_FAILED'],
    ['sku and productId both', () => ({ customerId: 'c1', items: [item({ productId: 1 })] }), 400, 'VALIDATION_FAILED'],
    ['unknown field', () => ({ customerId: 'c1', items: [item()], discount: 100 }), 400, 'VALIDATION_FAILED'],
    ['unknown item field', () => ({ customerId: 'c1', items: [item({ priceCents: 1 })] }), 400, 'VALIDATION_FAILED'],
    ['a client-sent price', () => ({ customerId: 'c1', items: [item()], totalCents: 1 }), 400, 'VALIDATION_FAILED'],
    ['10 kB customerId', () => ({ customerId: 'x'.repeat(10_000), items: [item()] }), 400, 'VALIDATION_FAILED'],
    ['unicode customerId', () => ({ customerId: 'ünïcødé-😀', items: [item()] }), 400, 'VALIDATION_FAILED'],
    ['SQL-looking customerId', () => ({ customerId: "x'; DROP TABLE \"Orders\"; --", items: [item()] }), 400, 'VALIDATION_FAILED'],
    ['lower-case currency', () => ({ customerId: 'c1', items: [item()], currency: 'eur' }), 400, 'VALIDATION_FAILED'],
    ['a body that is an array', () => [item()], 400, 'VALIDATION_FAILED'],
    ['a body that is null', () => null, 400, 'VALIDATION_FAILED'],
    ['unknown SKU', () => ({ customerId: 'c1', items: [{ sku: 'NO-SUCH-SKU', quantity: 1 }] }), 422, 'UNKNOWN_PRODUCT'],
    ['SQL-looking SKU', () => ({ customerId: 'c1', items: [{ sku: "' OR 1=1 --", quantity: 1 }] }), 422, 'UNKNOWN_PRODUCT'],
    ['unknown productId', () => ({ customerId: 'c1', items: [{ productId: 999999, quantity: 1 }] }), 422, 'UNKNOWN_PRODUCT'],
    ['another currency than the price list', () => ({ customerId: 'c1', items: [item()], currency: 'USD' }), 422, 'CURRENCY_MISMATCH'],
    ['more than the stock', () => ({ customerId: 'c1', items: [item({ quantity: 4 })] }), 409, 'INSUFFICIENT_STOCK'],
  ];

  it.each(cases)('when the body has %s, then 4xx with a code and nothing is written', async (_name, body, status, code) => {
    const before = await rowCounts(t);
    const res = await t.http.post('/orders/create').set('Content-Type', 'application/json').send(JSON.stringify(body()));
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+|SELECT |INSERT |stack/);
    if (code === 'VALIDATION_FAILED') expect(res.body.error.details.length).toBeGreaterThan(0);
    expect(await rowCounts(t)).toEqual(before);
  });

  // Half a surrogate pair: JSON.parse takes it, PostgreSQL does not (found by the chaos fuzzer as a 500).
  it.each([
    ['a SKU', () => ({ customerId: 'c1', items: [{ sku: '\udfff', quantity: 1 }] }), 'sku'],
    ['a field name', () => ({ customerId: 'c1', items: [item()], '\ud800': 1 }), '(a field name)'],
  ])('when %s is half of a UTF-16 surrogate pair, then 400 VALIDATION_FAILED says the text is not Unicode and nothing is written', async (_what, body, path) => {
    const before = await rowCounts(t);
    const res = await t.http.post('/orders/create').set('Content-Type', 'application/json').send(JSON.stringify(body()));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details).toEqual([{ path, message: expect.stringContaining('not valid Unicode') }]);
    expect(await rowCounts(t)).toEqual(before);
  });

  it('when the body is malformed JSON, then 400 INVALID_JSON and nothing is written', async () => {
    const before = await rowCounts(t);
    const res = await t.http.post('/orders/create').set('Content-Type', 'application/json').send('{"customerId": "c1", "items": [');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_JSON');
    expect(await rowCounts(t)).toEqual(before);
  });

  it('when the Idempotency-Key is too long, then 400 and nothing is written', async () => {
    const before = await rowCounts(t);
    const res = await t.http.post('/orders/create').set('Idempotency-Key', 'k'.repeat(256)).send({ customerId: 'c1', items: [item()] });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe('Idempotency-Key');
    expect(await rowCounts(t)).toEqual(before);
  });

  it('when the validation fails in several places, then each problem has its own detail with a path', async () => {
    const res = await t.http.post('/orders/create').send({ customerId: '', items: [{ sku, quantity: 0 }], extra: true });
    expect(res.status).toBe(400);
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['customerId', 'items.0.quantity', 'extra']));
  });
});
