import { Product } from '../../src/modules/catalog';
import { StockReservation } from '../../src/modules/inventory';
import { Order, OrderFlow, OrderItem, OrderLog, orderStats, paymentIdempotencyKey } from '../../src/modules/orders';
import { QUEUES } from '../../src/queue/queues';
import { invariantViolations } from '../helpers/invariants';
import { createProduct, eventually, startTestApp, type TestApp } from '../helpers/test-app';

async function counts(t: TestApp) {
  const jobs = (await t.ctx.queue.inspect.countsByQueueAndState()).reduce((sum, c) => sum + c.count, 0);
  return { orders: await Order.count(), items: await OrderItem.count(), logs: await OrderLog.count(), jobs };
}

/** Stock as the API shows it. */
async function stockOf(t: TestApp, sku: string): Promise<{ stockOnHand: number; stockReserved: number }> {
  const { stockOnHand, stockReserved } = (await t.http.get(`/products/${sku}`).expect(200)).body.product;
  return { stockOnHand, stockReserved };
}

async function orderOf(t: TestApp, id: string) {
  return (await t.http.get(`/orders/${id}`).expect(200)).body.order;
}

/** Sets the scene of a test by hand, as a stuck or racing job would leave it. */
const expireReservations = (orderId: string) =>
  StockReservation.update({ expiresAt: new Date(Date.now() - 60_000) }, { where: { orderId } });
const holdPaymentLease = (orderId: string) =>
  Order.update({ paymentLeaseUntil: new Date(Date.now() + 30_000) }, { where: { id: orderId }, silent: true });

describe('orders API without workers (intake, idempotency, cancel, reads)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ workers: false });
  });
  afterAll(async () => {
    await t.stop();
  });

  describe('Idempotency-Key', () => {
    it('when a request is retried with the same key and body, then the first order comes back and nothing new is created', async () => {
      const p = await createProduct({ stock: 10 });
      const body = { customerId: 'cust_idem_1', items: [{ sku: p.sku, quantity: 1 }] };
      const first = await t.http.post('/orders/create').set('Idempotency-Key', 'key-1').send(body);
      const before = await counts(t);
      const second = await t.http.post('/orders/create').set('Idempotency-Key', 'key-1').send(body);
      expect(first.status).toBe(202);
      expect(second.status).toBe(202);
      expect(second.body).toEqual(first.body);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(await counts(t)).toEqual(before);
    });

    it('when the same key comes with a different body, then 422 IDEMPOTENCY_KEY_REUSED and nothing is written', async () => {
      const p = await createProduct({ stock: 10 });
      await t.http.post('/orders').set('Idempotency-Key', 'key-2').send({ customerId: 'cust_idem_2', items: [{ sku: p.sku, quantity: 1 }] });
      const before = await counts(t);
      const res = await t.http.post('/orders').set('Idempotency-Key', 'key-2').send({ customerId: 'cust_idem_2', items: [{ sku: p.sku, quantity: 2 }] });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(await counts(t)).toEqual(before);
    });

    it('when another customer uses the same key, then it is a different order (keys are scoped to the customer)', async () => {
      const p = await createProduct({ stock: 10 });
      const a = await t.http.post('/orders').set('Idempotency-Key', 'shared').send({ customerId: 'cust_scope_a', items: [{ sku: p.sku, quantity: 1 }] });
      const b = await t.http.post('/orders').set('Idempotency-Key', 'shared').send({ customerId: 'cust_scope_b', items: [{ sku: p.sku, quantity: 1 }] });
      expect(a.status).toBe(202);
      expect(b.status).toBe(202);
      expect(a.body.order.id).not.toBe(b.body.order.id);
    });

    it('when 20 concurrent requests carry one key, then exactly one order is created and all get it', async () => {
      const p = await createProduct({ stock: 100 });
      const body = { customerId: 'cust_idem_conc', items: [{ sku: p.sku, quantity: 1 }] };
      const responses = await Promise.all(Array.from({ length: 20 }, () => t.http.post('/orders').set('Idempotency-Key', 'conc-key').send(body)));
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(202));
      expect(new Set(responses.map((r) => r.body.order.id)).size).toBe(1);
      const listed = await t.http.get('/orders').query({ customerId: 'cust_idem_conc' });
      expect(listed.body.orders).toHaveLength(1);
    });
  });

  describe('reads', () => {
    it('when listing a customer\'s orders, then they come newest first with a working cursor', async () => {
      const p = await createProduct({ stock: 100 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const res = await t.http.post('/orders').send({ customerId: 'cust_list', items: [{ sku: p.sku, quantity: 1 }] });
        ids.push(res.body.order.id);
      }
      const page1 = await t.http.get('/orders').query({ customerId: 'cust_list', limit: 2 });
      expect(page1.status).toBe(200);
      expect(page1.body.orders.map((o: { id: string }) => o.id)).toEqual([ids[4], ids[3]]);
      const page2 = await t.http.get('/orders').query({ customerId: 'cust_list', limit: 2, cursor: page1.body.nextCursor });
      expect(page2.body.orders.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);
      const page3 = await t.http.get('/orders').query({ customerId: 'cust_list', limit: 2, cursor: page2.body.nextCursor });
      expect(page3.body.orders.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
      expect(page3.body.nextCursor).toBeNull();
      const pending = await t.http.get('/orders').query({ customerId: 'cust_list', status: 'completed' });
      expect(pending.body.orders).toEqual([]);
    });

    it('when an order does not exist, then 404 ORDER_NOT_FOUND; when the id is not a uuid, then 400', async () => {
      const missing = await t.http.get('/orders/4f1c2f0e-7a3b-4c55-9d6e-1a2b3c4d5e6f');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('ORDER_NOT_FOUND');
      const bad = await t.http.get('/orders/not-a-uuid');
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('VALIDATION_FAILED');
      const badLimit = await t.http.get('/orders').query({ limit: 101 });
      expect(badLimit.status).toBe(400);
      const badCursor = await t.http.get('/orders').query({ cursor: 'garbage' });
      expect(badCursor.status).toBe(400);
    });
  });

  describe('cancel', () => {
    it('when a pending order is cancelled, then it is cancelled, twice is harmless, and its reserve job changes nothing', async () => {
      const p = await createProduct({ stock: 5 });
      const created = await t.http.post('/orders').send({ customerId: 'cust_cancel_p', items: [{ sku: p.sku, quantity: 2 }] });
      const id = created.body.order.id;
      const first = await t.http.post(`/orders/${id}/cancel`);
      expect(first.status).toBe(200);
      expect(first.body.order.status).toBe('cancelled');
      const again = await t.http.post(`/orders/${id}/cancel`);
      expect(again.status).toBe(200);
      expect(again.body.order.timeline.filter((e: { event: string }) => e.event === 'ORDER_CANCELLED')).toHaveLength(1);
      expect(await new OrderFlow(t.ctx).reserve(id, {})).toBe('skipped');
      expect((await stockOf(t, p.sku)).stockReserved).toBe(0);
    });

    it('when a reserved order is cancelled, then its stock is released', async () => {
      const p = await createProduct({ stock: 5 });
      const created = await t.http.post('/orders').send({ customerId: 'cust_cancel_r', items: [{ sku: p.sku, quantity: 3 }] });
      const id = created.body.order.id;
      await new OrderFlow(t.ctx).reserve(id, {});
      expect((await stockOf(t, p.sku)).stockReserved).toBe(3);
      const res = await t.http.post(`/orders/${id}/cancel`);
      expect(res.status).toBe(200);
      expect(res.body.order.timeline.map((e: { event: string }) => e.event).slice(-2)).toEqual(['STOCK_RELEASED', 'ORDER_CANCELLED']);
      expect(await stockOf(t, p.sku)).toEqual({ stockReserved: 0, stockOnHand: 5 });
      expect(await new OrderFlow(t.ctx).charge(id, {})).toBe('skipped');
      expect(t.payments.charges.size).toBe(0);
    });

    it('when a completed or failed order is cancelled, then 409 ORDER_NOT_CANCELLABLE', async () => {
      const p = await createProduct({ stock: 5 });
      const flow = new OrderFlow(t.ctx);
      const done = await t.http.post('/orders').send({ customerId: 'cust_cancel_c', items: [{ sku: p.sku, quantity: 1 }] });
      await flow.reserve(done.body.order.id, {});
      await flow.charge(done.body.order.id, {});
      const res = await t.http.post(`/orders/${done.body.order.id}/cancel`);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('ORDER_NOT_CANCELLABLE');

      const q = await createProduct({ stock: 1 });
      const failing = await t.http.post('/orders').send({ customerId: 'cust_cancel_f', items: [{ sku: q.sku, quantity: 1 }] });
      // The stock is gone between intake and reservation (a warehouse sync would do this).
      await Product.update({ stockOnHand: 0 }, { where: { id: q.id } });
      await flow.reserve(failing.body.order.id, {});
      const failed = await t.http.post(`/orders/${failing.body.order.id}/cancel`);
      expect(failed.status).toBe(409);
      expect(failed.body.error.code).toBe('ORDER_NOT_CANCELLABLE');
    });

    it('when a charge attempt is in flight, then cancel answers 409 instead of racing the payment', async () => {
      const p = await createProduct({ stock: 5 });
      const created = await t.http.post('/orders').send({ customerId: 'cust_cancel_lease', items: [{ sku: p.sku, quantity: 1 }] });
      await new OrderFlow(t.ctx).reserve(created.body.order.id, {});
      await holdPaymentLease(created.body.order.id);
      const res = await t.http.post(`/orders/${created.body.order.id}/cancel`);
      expect(res.status).toBe(409);
      expect(res.body.error.details.paymentInProgress).toBe(true);
    });
  });

  describe('jobs delivered twice', () => {
    it('when the reserve and charge handlers run twice for one order, then stock and charges change once', async () => {
      const p = await createProduct({ stock: 10 });
      const flow = new OrderFlow(t.ctx);
      const created = await t.http.post('/orders').send({ customerId: 'cust_twice', items: [{ sku: p.sku, quantity: 4 }] });
      const id = created.body.order.id;
      const reserves = await Promise.all([flow.reserve(id, {}), flow.reserve(id, {})]);
      expect(reserves.sort()).toEqual(['done', 'skipped']);
      expect(await flow.charge(id, {})).toBe('done');
      expect(await flow.charge(id, {})).toBe('skipped');
      expect(await stockOf(t, p.sku)).toEqual({ stockOnHand: 6, stockReserved: 0 });
      expect([...t.payments.charges.values()].filter((c) => c.orderId === id)).toHaveLength(1);
      expect((await orderOf(t, id)).payments).toHaveLength(1);
    });
  });

  describe('expiry sweeper', () => {
    it('when a reservation is abandoned past its expiry, then the sweeper releases it and fails the order RESERVATION_EXPIRED', async () => {
      const p = await createProduct({ stock: 5 });
      const flow = new OrderFlow(t.ctx);
      const created = await t.http.post('/orders').send({ customerId: 'cust_sweep', items: [{ sku: p.sku, quantity: 2 }] });
      const id = created.body.order.id;
      await flow.reserve(id, {});
      await expireReservations(id);
      expect(await flow.sweepExpired({})).toBeGreaterThanOrEqual(1);
      const order = await orderOf(t, id);
      expect(order).toMatchObject({ status: 'failed', failureReason: 'RESERVATION_EXPIRED' });
      expect(order.timeline.map((e: { event: string }) => e.event).slice(-3)).toEqual(['RESERVATION_EXPIRED', 'STOCK_RELEASED', 'ORDER_FAILED']);
      expect((await stockOf(t, p.sku)).stockReserved).toBe(0);
      // The late charge job finds the order closed and charges nothing.
      expect(await flow.charge(id, {})).toBe('skipped');
      expect([...t.payments.charges.values()].filter((c) => c.orderId === id)).toHaveLength(0);
    });

    it('when a reservation expires but the provider holds a charge whose answer was lost, then the sweeper collects it instead of failing the order', async () => {
      const p = await createProduct({ stock: 5 });
      const flow = new OrderFlow(t.ctx);
      const created = await t.http.post('/orders').send({ customerId: 'cust_sweep_paid', items: [{ sku: p.sku, quantity: 1 }] });
      const id = created.body.order.id;
      await flow.reserve(id, {});
      // An earlier attempt charged at the provider, but its answer never arrived and its worker died.
      const charged = await fetch(`${t.paymentServer.url}/charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Idempotency-Key': paymentIdempotencyKey(id) },
        body: JSON.stringify({ orderId: id, amountCents: 1250, currency: 'EUR' }),
      });
      expect(charged.status).toBe(201);
      await Order.update({ paymentAttempts: 1 }, { where: { id } });
      await expireReservations(id);
      const chargeJobs = () => t.ctx.queue.inspect.jobsWithData(QUEUES.ORDER_CHARGE, 'orderId', id);
      const jobsBefore = (await chargeJobs()).length;
      await flow.sweepExpired({});
      expect((await orderOf(t, id)).status).toBe('reserved');
      expect(await chargeJobs()).toHaveLength(jobsBefore + 1);
      expect(await flow.charge(id, {})).toBe('done');
      expect((await orderOf(t, id)).status).toBe('completed');
      expect([...t.payments.charges.values()].filter((c) => c.orderId === id)).toHaveLength(1);
    });

    it('when a charge attempt holds the lease, then the sweeper leaves the order alone', async () => {
      const p = await createProduct({ stock: 5 });
      const flow = new OrderFlow(t.ctx);
      const created = await t.http.post('/orders').send({ customerId: 'cust_sweep_lease', items: [{ sku: p.sku, quantity: 1 }] });
      const id = created.body.order.id;
      await flow.reserve(id, {});
      await expireReservations(id);
      await holdPaymentLease(id);
      await flow.sweepExpired({});
      expect((await orderOf(t, id)).status).toBe('reserved');
    });
  });

  describe('order stats (the dashboard\'s orders panel)', () => {
    it('when orders are created and one is cancelled, then the current minute and the in-flight counts show them', async () => {
      const p = await createProduct({ stock: 10 });
      const before = await orderStats();
      const kept = await t.http.post('/orders').send({ customerId: 'cust_stats', items: [{ sku: p.sku, quantity: 1 }] });
      const dropped = await t.http.post('/orders').send({ customerId: 'cust_stats', items: [{ sku: p.sku, quantity: 1 }] });
      await t.http.post(`/orders/${dropped.body.order.id}/cancel`).expect(200);
      const after = await orderStats();

      expect(after.perMinute).toHaveLength(60);
      const minutes = after.perMinute.map((b) => Date.parse(b.minute));
      expect(minutes.every((m, i) => i === 0 || m - minutes[i - 1] === 60_000)).toBe(true);
      expect(after.perMinute[59].minute <= new Date().toISOString()).toBe(true);
      // Only these two orders changed since `before` (nothing else runs in this file meanwhile).
      expect(after.lastHour.created - before.lastHour.created).toBe(2);
      expect(after.lastHour.cancelled - before.lastHour.cancelled).toBe(1);
      expect(after.inFlight.pending - before.inFlight.pending).toBe(1);
      expect(after.inFlight.reserved).toBe(before.inFlight.reserved);
      const createdAt = Date.parse(kept.body.order.createdAt);
      const itsMinute = after.perMinute.find((m) => Date.parse(m.minute) === createdAt - (createdAt % 60_000));
      expect(itsMinute?.open).toBeGreaterThanOrEqual(1);
    });
  });

  it('when all of the above has run, then stock and reservations still add up', async () => {
    // Orders of this block are driven by hand, so they need not be terminal; the rest must hold.
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
  });
});

describe('orders with workers: sweeper tick and notify', () => {
  let t: TestApp;
  beforeAll(async () => {
    // A failed charge attempt is retried only after an hour, so nothing but the sweeper can end the order.
    t = await startTestApp({ workers: true, env: { SWEEPER_CRON: '* * * * * *', PAYMENT_RETRY_DELAY_S: '3600' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when a reservation expires while workers run, then the sweeper cron releases it without help', async () => {
    const p = await createProduct({ stock: 3 });
    t.payments.settings.down = true;
    const created = await t.http.post('/orders').send({ customerId: 'cust_sweep_cron', items: [{ sku: p.sku, quantity: 1 }] });
    const id = created.body.order.id;
    // The first attempt fails and releases its lease (which the API does not show); its retry waits an hour.
    await eventually(async () => {
      const order = await Order.findByPk(id, { attributes: ['status', 'paymentAttempts', 'paymentLeaseUntil'] });
      return order?.status === 'reserved' && order.paymentAttempts === 1 && order.paymentLeaseUntil === null;
    });
    // The provider answers again (so the sweeper can see it holds no charge), and the reservation runs out.
    t.payments.settings.down = false;
    await expireReservations(id);
    // One sweep job per 50 s slot (the ticks of all processes make one job): when this slot's
    // sweep already ran before the reservation expired, the next slot's sweep releases it.
    const order = await eventually(async () => {
      const o = await orderOf(t, id);
      return o.status === 'failed' ? o : null;
    }, 55_000);
    expect(order.failureReason).toBe('RESERVATION_EXPIRED');
    expect((await stockOf(t, p.sku)).stockReserved).toBe(0);
    expect(order.timeline.map((e: { event: string }) => e.event).slice(-3)).toEqual(['RESERVATION_EXPIRED', 'STOCK_RELEASED', 'ORDER_FAILED']);
    // Its pending retry finds the order closed and charges nothing.
    expect([...t.payments.charges.values()].filter((c) => c.orderId === id)).toHaveLength(0);
    expect(await invariantViolations(t)).toEqual([]);
  }, 90_000);
});
