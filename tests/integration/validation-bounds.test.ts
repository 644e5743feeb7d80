import { createProduct, rowCounts, startTestApp, type TestApp } from '../helpers/test-app';

/** `json` (an object's JSON text) with one more key, written as raw text: `__proto__` cannot be set on an object literal. */
function withKey(json: string, key: string, value = '{"x":1}'): string {
  return `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}${JSON.stringify(key)}:${value}}`;
}

const quotedIfNeeded = (key: string) => (key === '' || key.includes('.') ? JSON.stringify(key) : key);

/** Keys that JavaScript objects treat specially, and names a path cannot show plainly. */
const ODD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'a.b', ''];

describe('bounded validation: size first, linear uniqueness, capped details, every unknown key refused', () => {
  let t: TestApp;
  let sku: string;
  let otherSku: string;
  let productId: number;
  beforeAll(async () => {
    t = await startTestApp();
    ({ sku, id: productId } = await createProduct({ stock: 100 }));
    ({ sku: otherSku } = await createProduct({ stock: 100 }));
  });
  afterAll(async () => {
    await t.stop();
  });

  const postOrder = (body: string) => t.http.post('/orders/create').set('Content-Type', 'application/json').send(body);

  describe('size limits first', () => {
    it.each([
      ['51 items of the same SKU', 51],
      ['about 80 kB of items, all the same SKU', 2_000],
    ])('when an order has %s, then 400 with the size error only and nothing is written', async (_name, count) => {
      const before = await rowCounts(t);
      const res = await postOrder(JSON.stringify({ customerId: 'c1', items: Array.from({ length: count }, () => ({ sku, quantity: 1 })) }));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.any(String) });
      expect(res.body.error.details).toEqual([{ path: 'items', message: `items has too many entries: ${count}, at most 50` }]);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('when an order has 51 items that are also invalid one by one, then only the size error: no item is looked at', async () => {
      const items = Array.from({ length: 51 }, (_, i) => (i % 2 ? null : { sku: 7, quantity: 0, colour: 'red' }));
      const res = await postOrder(JSON.stringify({ customerId: 'c1', items }));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ path: 'items', message: expect.stringContaining('too many entries') }]);
    });

    it('when a string is over its limit next to other problems, then 400 with the size error only', async () => {
      const res = await postOrder(JSON.stringify({ customerId: 'x'.repeat(10_000), items: [{ sku, quantity: 0 }], extra: true }));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ path: 'customerId', message: 'customerId is too long: 10000 characters, at most 64' }]);
    });

    it('when a product gets more categories than allowed, repeated, then 400 with the size error only and nothing changes', async () => {
      const before = await rowCounts(t);
      const res = await t.http.put(`/products/${sku}/categories`).send({ categories: Array.from({ length: 500 }, () => 'coffee') });
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ path: 'categories', message: 'categories has too many entries: 500, at most 20' }]);
      expect(await rowCounts(t)).toEqual(before);
    });
  });

  describe('uniqueness of an order\'s products', () => {
    it.each([
      ['the same SKU twice', () => [{ sku, quantity: 1 }, { sku: otherSku, quantity: 1 }, { sku, quantity: 2 }], 'items.2'],
      ['the same productId twice', () => [{ productId, quantity: 1 }, { productId, quantity: 1 }], 'items.1'],
    ])('when a valid-size order names %s, then 400 at the repeated item and nothing is written', async (_name, items, path) => {
      const before = await rowCounts(t);
      const res = await postOrder(JSON.stringify({ customerId: 'c1', items: items() }));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details).toEqual([{ path, message: 'the same product appears twice; send it once with the total quantity' }]);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('when 50 different products are ordered, then the order is accepted', async () => {
      const skus = [sku, otherSku, ...(await Promise.all(Array.from({ length: 48 }, () => createProduct({ stock: 5 })))).map((p) => p.sku)];
      const res = await postOrder(JSON.stringify({ customerId: 'c1', items: skus.map((s) => ({ sku: s, quantity: 1 })) }));
      expect(res.status).toBe(202);
    });
  });

  describe('at most 20 details', () => {
    it('when an order has 200 invalid fields, then 400 lists 20 of them and counts the other 180', async () => {
      // Per item: a sku of the wrong type, quantity 0 and two unknown fields.
      const items = Array.from({ length: 50 }, (_, i) => ({ sku: i, quantity: 0, colour: 'red', size: 'L' }));
      const res = await postOrder(JSON.stringify({ customerId: 'c1', items }));
      expect(res.status).toBe(400);
      const { details } = res.body.error;
      expect(details).toHaveLength(21);
      expect(details.slice(0, 20)).toEqual(Array.from({ length: 20 }, () => ({ path: expect.stringMatching(/^items\.\d+\.\w+$/), message: expect.any(String) })));
      expect(details[20]).toEqual({ path: '(more)', message: 'and 180 more problems not listed', omitted: 180 });
    });

    it('when a body has 200 unknown fields, then 400 lists 20 and counts the rest, and nothing is written', async () => {
      const before = await rowCounts(t);
      const body: Record<string, unknown> = { name: 'Bounded' };
      for (let i = 0; i < 200; i++) body[`field${i}`] = i;
      const res = await t.http.post('/categories').send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.details).toHaveLength(21);
      expect(res.body.error.details[0]).toEqual({ path: 'field0', message: 'unknown field "field0"' });
      expect(res.body.error.details[20]).toMatchObject({ path: '(more)', omitted: 180 });
      expect(await rowCounts(t)).toEqual(before);
    });

    it('when there are 20 problems or fewer, then they are all listed and nothing is counted', async () => {
      const items = Array.from({ length: 10 }, (_, i) => ({ sku: `S-${i}`, quantity: 0, colour: 'red' }));
      const res = await postOrder(JSON.stringify({ customerId: 'c1', items }));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toHaveLength(20);
      expect(res.body.error.details.some((d: { omitted?: number }) => d.omitted !== undefined)).toBe(false);
    });
  });

  describe('every unknown key refused, whatever its name', () => {
    const order = () => JSON.stringify({ customerId: 'c1', items: [{ sku, quantity: 1 }] });

    it.each(ODD_KEYS)('when an order carries the key %j at the top level, then 400 names it and nothing is written', async (key) => {
      const before = await rowCounts(t);
      const res = await postOrder(withKey(order(), key));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details).toEqual([{ path: quotedIfNeeded(key), message: `unknown field ${JSON.stringify(key)}` }]);
      expect(await rowCounts(t)).toEqual(before);
    });

    it.each(ODD_KEYS)('when an order item carries the key %j, then 400 names it at the item and nothing is written', async (key) => {
      const before = await rowCounts(t);
      const item = withKey(JSON.stringify({ sku, quantity: 1 }), key, '{"quantity":999}');
      const res = await postOrder(`{"customerId":"c1","items":[${JSON.stringify({ sku: otherSku, quantity: 1 })},${item}]}`);
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ path: `items.1.${quotedIfNeeded(key)}`, message: `unknown field ${JSON.stringify(key)}` }]);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('when "__proto__" comes with other problems, then each is reported', async () => {
      const res = await postOrder(withKey(JSON.stringify({ customerId: '', items: [{ sku, quantity: 0 }] }), '__proto__', '"x"'));
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['customerId', 'items.0.quantity', '__proto__']));
    });

    it('when a key is 10 kB long, then 400 names its first 100 characters', async () => {
      const key = 'k'.repeat(10_000);
      const res = await postOrder(withKey(order(), key));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ path: `${'k'.repeat(100)}…`, message: `unknown field "${'k'.repeat(100)}…"` }]);
    });

    it.each(['__proto__', 'constructor', 'prototype'])('when a token request carries %j, then 400 naming it, not a token', async (key) => {
      const res = await t.anonymous
        .post('/auth/token')
        .set('Content-Type', 'application/json')
        .send(withKey(JSON.stringify({ client_id: 'nobody', client_secret: 'nothing' }), key, '{"role":"admin"}'));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: key, message: `unknown field "${key}"` }] });
    });

    it('when a category carries "__proto__", then 400 and no category is created', async () => {
      const before = await rowCounts(t);
      const res = await t.http.post('/categories').set('Content-Type', 'application/json').send(withKey(JSON.stringify({ name: 'Proto beans' }), '__proto__', '{"slug":"x"}'));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ path: '__proto__', message: 'unknown field "__proto__"' }]);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('when the payment mock\'s settings carry "__proto__", then 400 and the settings stay as they were', async () => {
      const before = (await t.http.get('/admin/mocks/payments/config')).body.config;
      const res = await t.http
        .put('/admin/mocks/payments/config')
        .set('Content-Type', 'application/json')
        .send(withKey('{"latencyMs":5}', '__proto__', '{"down":true}'));
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ path: '__proto__', message: 'unknown field "__proto__"' }]);
      expect((await t.http.get('/admin/mocks/payments/config')).body.config).toEqual(before);
    });

    it('when a cancel or a manual sync carries a body with keys, then 400 names them and the order stays open and no sync is queued', async () => {
      const created = await postOrder(JSON.stringify({ customerId: 'c1', items: [{ sku: otherSku, quantity: 1 }] }));
      expect(created.status).toBe(202);
      const orderId = created.body.order.id as string;
      const cancel = await t.http.post(`/orders/${orderId}/cancel`).set('Content-Type', 'application/json').send(withKey('{}', '__proto__', '{"force":true}'));
      expect(cancel.status).toBe(400);
      expect(cancel.body.error.details).toEqual([{ path: '__proto__', message: 'unknown field "__proto__"' }]);
      expect((await t.http.get(`/orders/${orderId}`)).body.order.status).not.toBe('cancelled');

      const before = await rowCounts(t);
      const sync = await t.http.post('/inventory/sync').send({ replace: true });
      expect(sync.status).toBe(400);
      expect(sync.body.error.details).toEqual([{ path: 'replace', message: 'unknown field "replace"' }]);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('when a query string carries "__proto__", then 400 names it', async () => {
      const res = await t.http.get('/orders?__proto__=x');
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ path: '__proto__', message: 'unknown field "__proto__"' }]);
    });
  });
});
