import { invariantViolations } from '../helpers/invariants';
import { createProduct, eventually, rowCounts, startTestApp, waitForTerminal, type TestApp } from '../helpers/test-app';

/**
 * Refunds through the API: an admin's refund of a completed order, and the automatic refund of a
 * charge that landed after its order was closed. The provider is the mock, over real HTTP; what
 * it paid back is read from its own GET /refunds.
 */
describe('refunds', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ workers: true, env: { REFUND_RETRY_DELAY_S: '1', PAYMENT_CIRCUIT_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await t.stop();
  });
  afterEach(() => {
    Object.assign(t.payments.settings, { failureRate: 0, declineRate: 0, lostResponseRate: 0, latencyMs: 0, down: false });
  });

  interface ProviderRefund { id: string; chargeId: string; orderId: string; amountCents: number; idempotencyKey: string }

  async function providerRefunds(orderId: string): Promise<ProviderRefund[]> {
    const res = await fetch(`${t.ctx.paymentProviderUrl}/refunds?orderId=${orderId}`);
    return ((await res.json()) as { items: ProviderRefund[] }).items;
  }

  const providerCharges = (orderId: string) => [...t.payments.charges.values()].filter((c) => c.orderId === orderId && c.status === 'succeeded');

  async function order(id: string) {
    return (await t.http.get(`/orders/${id}`)).body.order;
  }

  async function completedOrder(customerId: string, quantity = 2, stock = 10) {
    const product = await createProduct({ stock, priceCents: 450 });
    const res = await t.http.post('/orders').send({ customerId, items: [{ sku: product.sku, quantity }] });
    expect(res.status).toBe(202);
    const done = await waitForTerminal(t, res.body.order.id);
    expect(done.status).toBe('completed');
    return { product, order: done };
  }

  async function stockOf(sku: string) {
    const res = await t.http.get(`/products/${encodeURIComponent(sku)}`);
    return res.body.product;
  }

  const waitForStatus = (orderId: string, status: string, timeoutMs = 30_000) =>
    eventually(async () => {
      const o = await order(orderId);
      return o.status === status ? o : null;
    }, timeoutMs);

  const events = (o: { timeline: Array<{ event: string }> }) => o.timeline.map((e) => e.event);

  it('when an admin refunds a completed order, then the provider pays back its charge once, the order becomes refunded with its stock back on hand, and its story ends with ORDER_REFUNDED', async () => {
    const { product, order: done } = await completedOrder('cust_refund_full', 3, 10);
    expect((await stockOf(product.sku)).stockOnHand).toBe(7);

    const res = await t.http.post(`/orders/${done.id}/refund`).send({});
    expect(res.status).toBe(202);
    expect(res.body.order.refunds).toEqual([expect.objectContaining({ status: 'requested', reason: 'requested', amountCents: 1350, restock: true })]);

    const refunded = await waitForStatus(done.id, 'refunded');
    expect(refunded.refunds).toEqual([expect.objectContaining({ status: 'succeeded', amountCents: 1350, refundId: expect.stringMatching(/^re_/) })]);
    expect(events(refunded).slice(-4)).toEqual(['REFUND_REQUESTED', 'REFUND_SUCCEEDED', 'STOCK_RESTOCKED', 'ORDER_REFUNDED']);
    const atProvider = await providerRefunds(done.id);
    expect(atProvider).toHaveLength(1);
    expect(atProvider[0]).toMatchObject({ chargeId: providerCharges(done.id)[0].id, amountCents: 1350 });
    expect((await stockOf(product.sku)).stockOnHand).toBe(10);
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
  });

  it('when the refund is asked for again, while it is on its way and after it is done, then the provider still pays out one refund', async () => {
    const { order: done } = await completedOrder('cust_refund_twice');
    t.payments.settings.latencyMs = 300;
    const [first, second] = await Promise.all([
      t.http.post(`/orders/${done.id}/refund`).send({}),
      t.http.post(`/orders/${done.id}/refund`).send({}),
    ]);
    expect([first.status, second.status]).toEqual([202, 202]);
    await waitForStatus(done.id, 'refunded');
    const again = await t.http.post(`/orders/${done.id}/refund`).send({});
    expect(again.status).toBe(200);
    expect(again.body.order.status).toBe('refunded');
    expect(again.body.order.refunds).toHaveLength(1);
    expect(await providerRefunds(done.id)).toHaveLength(1);
    const o = await order(done.id);
    expect(events(o).filter((e) => e === 'REFUND_REQUESTED')).toHaveLength(1);
    expect(events(o).filter((e) => e === 'ORDER_REFUNDED')).toHaveLength(1);
  });

  it('when orders are read while their refunds settle, then every answer is one moment: a completed order never shows a paid refund or a story ending in ORDER_REFUNDED', async () => {
    const orders = await Promise.all(Array.from({ length: 8 }, (_, i) => completedOrder(`cust_refund_snapshot_${i}`, 1, 5)));
    t.payments.settings.latencyMs = 50;
    const answers: Array<{ status: string; refund: string | null; last: string }> = [];
    await Promise.all(orders.map(async ({ order: done }) => {
      expect((await t.http.post(`/orders/${done.id}/refund`).send({})).status).toBe(202);
      await eventually(async () => {
        const o = await order(done.id);
        answers.push({ status: o.status, refund: o.refunds[0]?.status ?? null, last: o.timeline[o.timeline.length - 1].event });
        return o.status === 'refunded';
      }, 20_000, 5);
    }));
    const mixed = answers.filter((a) => (a.status === 'refunded') !== (a.last === 'ORDER_REFUNDED') || (a.status === 'completed' && a.refund === 'succeeded'));
    expect(mixed).toEqual([]);
    expect(answers.length).toBeGreaterThan(orders.length);
  });

  it('when the refund says restock false, then the goods stay sold', async () => {
    const { product, order: done } = await completedOrder('cust_refund_keep', 2, 10);
    expect((await t.http.post(`/orders/${done.id}/refund`).send({ restock: false })).status).toBe(202);
    const refunded = await waitForStatus(done.id, 'refunded');
    expect(events(refunded)).not.toContain('STOCK_RESTOCKED');
    expect((await stockOf(product.sku)).stockOnHand).toBe(8);
  });

  it('when the provider fails the refund calls for a while, then the refund is retried until it succeeds, each failed attempt in the story', async () => {
    const { order: done } = await completedOrder('cust_refund_flaky');
    Object.assign(t.payments.settings, { failureRate: 1 });
    expect((await t.http.post(`/orders/${done.id}/refund`).send({})).status).toBe(202);
    await eventually(async () => events(await order(done.id)).includes('REFUND_FAILED'), 20_000);
    Object.assign(t.payments.settings, { failureRate: 0 });
    const refunded = await waitForStatus(done.id, 'refunded', 40_000);
    const failures = refunded.timeline.filter((e: { event: string }) => e.event === 'REFUND_FAILED');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures[0].message).toMatch(/^Refund attempt 1 of \d+ failed: PROVIDER_(UNAVAILABLE|TIMEOUT) .*; will retry$/);
    const succeeded = refunded.timeline.find((e: { event: string }) => e.event === 'REFUND_SUCCEEDED');
    expect(succeeded.attempt).toBe(failures.length + 1);
    expect(refunded.refunds[0]).toMatchObject({ status: 'succeeded', attempts: failures.length + 1 });
    expect(await providerRefunds(done.id)).toHaveLength(1);
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
  });

  it('when the order is not completed (failed, cancelled, still open) or unknown, then refunding it answers 409 or 404 and writes nothing', async () => {
    const product = await createProduct({ stock: 10 });
    t.payments.settings.declineRate = 1;
    const failed = (await t.http.post('/orders').send({ customerId: 'cust_refund_409', items: [{ sku: product.sku, quantity: 2 }] })).body.order;
    expect((await waitForTerminal(t, failed.id)).status).toBe('failed');
    t.payments.settings.declineRate = 0;
    t.payments.settings.latencyMs = 1500;
    const open = (await t.http.post('/orders').send({ customerId: 'cust_refund_409', items: [{ sku: product.sku, quantity: 1 }] })).body.order;
    const openRefund = await t.http.post(`/orders/${open.id}/refund`).send({});
    expect(openRefund.status).toBe(409);
    expect(openRefund.body.error).toMatchObject({ code: 'ORDER_NOT_REFUNDABLE', details: { status: expect.stringMatching(/^(pending|reserved)$/) } });
    await waitForTerminal(t, open.id);
    t.payments.settings.latencyMs = 0;
    const cancelled = (await t.http.post('/orders').send({ customerId: 'cust_refund_409', items: [{ sku: product.sku, quantity: 5 }] })).body.order;
    await t.http.post(`/orders/${cancelled.id}/cancel`).send({});
    await waitForTerminal(t, cancelled.id);

    const before = await rowCounts(t);
    for (const [id, status] of [[failed.id, 'failed'], [cancelled.id, expect.stringMatching(/^(cancelled|failed)$/)]]) {
      const res = await t.http.post(`/orders/${id}/refund`).send({});
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'ORDER_NOT_REFUNDABLE', details: { status } });
    }
    const unknown = await t.http.post('/orders/00000000-0000-4000-8000-000000000000/refund').send({});
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('ORDER_NOT_FOUND');
    expect(await rowCounts(t)).toEqual(before);
  });

  it('when a customer client or a bad body asks for a refund, then 403 or 400 and nothing is refunded', async () => {
    const { order: done } = await completedOrder('cust_refund_auth');
    const customer = await t.tokenFor({ clientId: 'shop-c', role: 'customer', customerId: 'cust_refund_auth' });
    const forbidden = await t.anonymous.post(`/orders/${done.id}/refund`).set('Authorization', `Bearer ${customer}`).send({});
    expect(forbidden.status).toBe(403);
    for (const body of [{ restock: 'no' }, { amountCents: 10 }]) {
      const res = await t.http.post(`/orders/${done.id}/refund`).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    const o = await order(done.id);
    expect(o.status).toBe('completed');
    expect(o.refunds).toEqual([]);
    expect(await providerRefunds(done.id)).toHaveLength(0);
  });

  it('when a charge lands after its order was cancelled (the call outlived its lease), then the charge is refunded automatically and the order stays cancelled', async () => {
    const product = await createProduct({ stock: 5, priceCents: 990 });
    // The provider answers within the call's timeout (1 s here), but only after the lease has run out.
    t.payments.settings.latencyMs = 700;
    const created = (await t.http.post('/orders').send({ customerId: 'cust_late_charge', items: [{ sku: product.sku, quantity: 1 }] })).body.order;
    await eventually(async () => events(await order(created.id)).includes('PAYMENT_ATTEMPT'), 10_000);
    // The worker stalls past its lease (a long GC pause, a frozen VM): the lease runs out while the call is in flight.
    await t.query(`UPDATE "Orders" SET payment_lease_until = now() - interval '1 second' WHERE id = $1`, [created.id]);
    const cancel = await t.http.post(`/orders/${created.id}/cancel`).send({});
    expect(cancel.status).toBe(200);
    expect(cancel.body.order.status).toBe('cancelled');

    const refunded = await eventually(async () => {
      const o = await order(created.id);
      return events(o).includes('REFUND_SUCCEEDED') ? o : null;
    }, 30_000);
    expect(refunded.status).toBe('cancelled');
    expect(refunded.refunds).toEqual([expect.objectContaining({ status: 'succeeded', reason: 'late_charge', amountCents: 990 })]);
    const story = events(refunded);
    expect(story.indexOf('ORDER_CANCELLED')).toBeLessThan(story.indexOf('REFUND_REQUESTED'));
    expect(story.indexOf('REFUND_REQUESTED')).toBeLessThan(story.indexOf('REFUND_SUCCEEDED'));
    expect(providerCharges(created.id)).toHaveLength(1);
    const atProvider = await providerRefunds(created.id);
    expect(atProvider).toHaveLength(1);
    expect(atProvider[0]).toMatchObject({ chargeId: providerCharges(created.id)[0].id, amountCents: 990 });
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
  });

  it('when a charge call times out on our side but the provider charges anyway after the order was cancelled, then the check after the close finds the charge and refunds it', async () => {
    const product = await createProduct({ stock: 5, priceCents: 610 });
    // The provider takes 1.5 s, past the call's 1 s timeout, and charges all the same.
    t.payments.settings.latencyMs = 1500;
    const created = (await t.http.post('/orders').send({ customerId: 'cust_late_timeout', items: [{ sku: product.sku, quantity: 1 }] })).body.order;
    await eventually(async () => events(await order(created.id)).includes('PAYMENT_ATTEMPT'), 10_000);
    await t.query(`UPDATE "Orders" SET payment_lease_until = now() - interval '1 second' WHERE id = $1`, [created.id]);
    expect((await t.http.post(`/orders/${created.id}/cancel`).send({})).body.order.status).toBe('cancelled');
    await eventually(async () => providerCharges(created.id).length === 1, 5_000);

    const refunded = await eventually(async () => {
      const o = await order(created.id);
      return events(o).includes('REFUND_SUCCEEDED') ? o : null;
    }, 40_000);
    expect(refunded.status).toBe('cancelled');
    expect(refunded.payments.filter((p: { outcome: string }) => p.outcome === 'succeeded')).toEqual([
      expect.objectContaining({ chargeId: providerCharges(created.id)[0].id, amountCents: 610 }),
    ]);
    expect(refunded.refunds).toEqual([expect.objectContaining({ status: 'succeeded', reason: 'late_charge', amountCents: 610 })]);
    expect(await providerRefunds(created.id)).toHaveLength(1);
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
  }, 60_000);
});
