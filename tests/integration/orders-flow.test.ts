import { invariantViolations } from '../helpers/invariants';
import { createProduct, startTestApp, waitForTerminal, type TestApp } from '../helpers/test-app';

/** Stock as the API shows it. */
async function stockOf(t: TestApp, sku: string): Promise<{ stockOnHand: number; stockReserved: number }> {
  const { stockOnHand, stockReserved } = (await t.http.get(`/products/${sku}`).expect(200)).body.product;
  return { stockOnHand, stockReserved };
}

describe('order flow through pg-boss jobs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ workers: true });
  });
  afterAll(async () => {
    await t.stop();
  });
  beforeEach(async () => {
    t.payments.settings.failureRate = 0;
    t.payments.settings.declineRate = 0;
    t.payments.settings.lostResponseRate = 0;
  });

  it('when an order is created and payment succeeds, then it completes with the full timeline in order', async () => {
    const product = await createProduct({ stock: 10, priceCents: 1500 });
    const res = await t.http.post('/orders/create').send({ customerId: 'cust_happy', items: [{ sku: product.sku, quantity: 2 }] });
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/orders/${res.body.order.id}`);
    expect(res.body.order).toMatchObject({ status: 'pending', customerId: 'cust_happy', currency: 'EUR', totalCents: 3000 });
    expect(res.body.order.items).toEqual([{ sku: product.sku, name: expect.any(String), quantity: 2, unitPriceCents: 1500 }]);

    const order = await waitForTerminal(t, res.body.order.id);
    expect(order.status).toBe('completed');
    expect(order.paymentAttempts).toBe(1);
    expect(order.payments).toEqual([expect.objectContaining({ attempt: 1, outcome: 'succeeded', chargeId: expect.stringMatching(/^ch_/) })]);
    expect(order.timeline.map((e: { event: string }) => e.event)).toEqual([
      'ORDER_CREATED', 'STOCK_RESERVED', 'PAYMENT_ATTEMPT', 'PAYMENT_SUCCEEDED', 'STOCK_COMMITTED', 'ORDER_COMPLETED',
    ]);
    expect(await stockOf(t, product.sku)).toEqual({ stockOnHand: 8, stockReserved: 0 });
    const logs = await t.http.get(`/orders/${order.id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body.logs).toHaveLength(6);
    expect(await invariantViolations(t)).toEqual([]);
  });

  it('when an order takes available stock down to the low-stock threshold, then its timeline says LOW_STOCK once, and later orders below it do not repeat it', async () => {
    const product = await createProduct({ stock: 6, lowStockThreshold: 3 });
    const first = await t.http.post('/orders/create').send({ customerId: 'cust_low_stock', items: [{ sku: product.sku, quantity: 3 }] });
    expect(first.status).toBe(202);
    const crossing = await waitForTerminal(t, first.body.order.id);
    const low = crossing.timeline.filter((e: { event: string }) => e.event === 'LOW_STOCK');
    expect(low).toHaveLength(1);
    expect(low[0].details).toEqual({ sku: product.sku, available: 3, threshold: 3 });
    expect(low[0].message).toContain(product.sku);

    const second = await t.http.post('/orders/create').send({ customerId: 'cust_low_stock', items: [{ sku: product.sku, quantity: 1 }] });
    const below = await waitForTerminal(t, second.body.order.id);
    expect(below.status).toBe('completed');
    expect(below.timeline.map((e: { event: string }) => e.event)).not.toContain('LOW_STOCK');
  });

  it('when the provider declines, then the order fails PAYMENT_DECLINED and its stock is released', async () => {
    t.payments.settings.declineRate = 1;
    const product = await createProduct({ stock: 5 });
    const res = await t.http.post('/orders').send({ customerId: 'cust_decline', items: [{ sku: product.sku, quantity: 3 }] });
    const order = await waitForTerminal(t, res.body.order.id);
    expect(order).toMatchObject({ status: 'failed', failureReason: 'PAYMENT_DECLINED', paymentAttempts: 1 });
    expect(order.timeline.map((e: { event: string }) => e.event)).toEqual([
      'ORDER_CREATED', 'STOCK_RESERVED', 'PAYMENT_ATTEMPT', 'PAYMENT_DECLINED', 'STOCK_RELEASED', 'ORDER_FAILED',
    ]);
    expect(await stockOf(t, product.sku)).toEqual({ stockOnHand: 5, stockReserved: 0 });
  });

  it('when every attempt fails, then the order fails PAYMENT_RETRIES_EXHAUSTED after the maximum attempts', async () => {
    t.payments.settings.down = true;
    try {
      const product = await createProduct({ stock: 5 });
      const res = await t.http.post('/orders').send({ customerId: 'cust_exhaust', items: [{ sku: product.sku, quantity: 1 }] });
      const order = await waitForTerminal(t, res.body.order.id);
      expect(order).toMatchObject({ status: 'failed', failureReason: 'PAYMENT_RETRIES_EXHAUSTED', paymentAttempts: t.config.payments.maxAttempts });
      expect(order.payments.map((p: { outcome: string }) => p.outcome)).toEqual(Array(t.config.payments.maxAttempts).fill('failed'));
      const events = order.timeline.map((e: { event: string }) => e.event);
      expect(events.filter((e: string) => e === 'PAYMENT_FAILED')).toHaveLength(t.config.payments.maxAttempts);
      expect(events.slice(-2)).toEqual(['STOCK_RELEASED', 'ORDER_FAILED']);
      expect((await stockOf(t, product.sku)).stockReserved).toBe(0);
    } finally {
      t.payments.settings.down = false;
    }
  });

  it('when the provider charges but the response is lost, then the charge is found under its idempotency key and the order completes with exactly one charge', async () => {
    t.payments.settings.lostResponseRate = 1;
    const product = await createProduct({ stock: 5 });
    const res = await t.http.post('/orders').send({ customerId: 'cust_lost', items: [{ sku: product.sku, quantity: 1 }] });
    const order = await waitForTerminal(t, res.body.order.id);
    expect(order.status).toBe('completed');
    // The 503 after the charge makes the adapter ask the provider, which holds the charge: no second attempt.
    expect(order.paymentAttempts).toBe(1);
    const charges = [...t.payments.charges.values()].filter((c) => c.orderId === order.id);
    expect(charges).toHaveLength(1);
    expect(order.payments.find((p: { outcome: string }) => p.outcome === 'succeeded').chargeId).toBe(charges[0].id);
  });

  it('when payments fail half the time, then 50 orders all reach a terminal state and the invariants hold', async () => {
    t.payments.settings.failureRate = 0.5;
    const product = await createProduct({ stock: 1000 });
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.http.post('/orders').send({ customerId: `cust_flaky_${i}`, items: [{ sku: product.sku, quantity: 1 }] })),
    );
    expect(responses.every((r) => r.status === 202)).toBe(true);
    for (const r of responses) await waitForTerminal(t, r.body.order.id, 60_000);
    expect(await invariantViolations(t)).toEqual([]);
    const perOrder = new Map<string, number>();
    for (const c of t.payments.charges.values()) perOrder.set(c.orderId, (perOrder.get(c.orderId) ?? 0) + 1);
    expect([...perOrder.values()].every((n) => n === 1)).toBe(true);
  }, 90_000);

  it('when 100 orders of 1 compete for stock 10, then at most 10 complete and stock never goes negative', async () => {
    const product = await createProduct({ stock: 10 });
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => t.http.post('/orders/create').send({ customerId: `cust_race_${i}`, items: [{ sku: product.sku, quantity: 1 }] })),
    );
    const accepted = responses.filter((r) => r.status === 202);
    expect(responses.every((r) => r.status === 202 || (r.status === 409 && r.body.error.code === 'INSUFFICIENT_STOCK'))).toBe(true);
    const finals = await Promise.all(accepted.map((r) => waitForTerminal(t, r.body.order.id, 60_000)));
    const completed = finals.filter((o) => o.status === 'completed');
    expect(completed.length).toBeLessThanOrEqual(10);
    expect(completed.length).toBe(10);
    expect(finals.filter((o) => o.status === 'failed').every((o) => o.failureReason === 'OUT_OF_STOCK')).toBe(true);
    expect(await stockOf(t, product.sku)).toEqual({ stockOnHand: 0, stockReserved: 0 });
    expect(await invariantViolations(t)).toEqual([]);
  }, 90_000);
});
