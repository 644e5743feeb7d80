import express from 'express';
import { listen, type RunningServer } from '../../src/shared/http-server';
import { Order } from '../../src/modules/orders';
import { paymentIdempotencyKey } from '../../src/modules/orders';
import { QUEUES } from '../../src/queue/queues';
import { invariantViolations } from '../helpers/invariants';
import { createProduct, eventually, startTestApp, type TestApp } from '../helpers/test-app';
import { startStalledServer, type StalledServer } from '../helpers/stalled-server';

/**
 * A charge whose answer never arrived (a lost response, a worker killed mid-call) may exist at
 * the provider while every later attempt fails at the provider's edge, before the idempotency
 * key is looked at. The chaos run (kill -9 a worker, 30% failures) ended with customers charged
 * for failed orders that way; the order must complete with that charge instead.
 */
describe('payments: a charge the service never heard about', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Retries far apart: a failed attempt leaves its order reserved long enough to set the scene.
    t = await startTestApp({ workers: true, env: { PAYMENT_MAX_ATTEMPTS: '5', PAYMENT_RETRY_DELAY_S: '60' } });
  });
  afterAll(async () => {
    await t.stop();
  });
  afterEach(() => {
    Object.assign(t.payments.settings, { failureRate: 0, declineRate: 0, lostResponseRate: 0, latencyMs: 0, down: false });
  });

  async function order(id: string) {
    const res = await t.http.get(`/orders/${id}`);
    return res.body.order;
  }

  /** The first attempt failed and its retry waits 60 s: take the job away, as if it had died. */
  async function dropChargeJob(orderId: string) {
    const chargeJobs = () => t.ctx.queue.inspect.jobsWithData(QUEUES.ORDER_CHARGE, 'orderId', orderId);
    await eventually(async () => (await chargeJobs()).some((j) => j.state === 'retry'), 20_000);
    const waiting = (await chargeJobs()).filter((j) => ['created', 'retry', 'active'].includes(j.state));
    if (waiting.length) await t.ctx.queue.boss.cancel(QUEUES.ORDER_CHARGE, waiting.map((j) => j.id));
    expect((await order(orderId)).status).toBe('reserved');
    // No attempt in flight: the failed one gave its payment lease back (the API does not show the lease).
    const row = await Order.findByPk(orderId, { attributes: ['paymentLeaseUntil'] });
    expect(row?.paymentLeaseUntil).toBeNull();
  }

  /** What an earlier attempt left at the provider: a charge under the order's key. */
  function chargeAtProvider(orderId: string, amountCents: number, status: 'succeeded' | 'declined' = 'succeeded') {
    const key = paymentIdempotencyKey(orderId);
    const charge = { id: `ch_earlier_${orderId.slice(0, 8)}`, orderId, amountCents, currency: 'EUR', idempotencyKey: key, status, createdAt: new Date().toISOString() };
    t.payments.charges.set(key, charge);
    return charge;
  }

  it('when every charge call fails at the edge but the provider holds a charge for the order, then the order completes with that charge', async () => {
    const product = await createProduct({ stock: 5, priceCents: 700 });
    // Every POST /charges fails (503 or a hang past the timeout) after 500 ms, time enough to
    // put the earlier attempt's charge in place first.
    Object.assign(t.payments.settings, { failureRate: 1, latencyMs: 500 });
    const res = await t.http.post('/orders').send({ customerId: 'cust_lost_edge', items: [{ sku: product.sku, quantity: 2 }] });
    const charge = chargeAtProvider(res.body.order.id, 1400);
    const done = await eventually(async () => {
      const o = await order(res.body.order.id);
      return ['completed', 'failed'].includes(o.status) ? o : null;
    }, 30_000);
    expect(done.status).toBe('completed');
    expect(done.payments.find((p: { outcome: string }) => p.outcome === 'succeeded').chargeId).toBe(charge.id);
    expect([...t.payments.charges.values()].filter((c) => c.orderId === res.body.order.id)).toHaveLength(1);
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
  });

  it('when the provider holds a declined charge and the call fails at the edge, then the order fails PAYMENT_DECLINED', async () => {
    const product = await createProduct({ stock: 5 });
    Object.assign(t.payments.settings, { failureRate: 1, latencyMs: 500 });
    const res = await t.http.post('/orders').send({ customerId: 'cust_lost_decline', items: [{ sku: product.sku, quantity: 1 }] });
    chargeAtProvider(res.body.order.id, 1250, 'declined');
    const done = await eventually(async () => {
      const o = await order(res.body.order.id);
      return ['completed', 'failed'].includes(o.status) ? o : null;
    }, 30_000);
    expect(done).toMatchObject({ status: 'failed', failureReason: 'PAYMENT_DECLINED' });
  });

  it('when a charge job dies after the provider charged, then the dead-letter worker collects the charge instead of failing the order', async () => {
    const product = await createProduct({ stock: 5, priceCents: 900 });
    // The order sits reserved with one attempt made and no charge job left: what a worker killed
    // mid-call on the last delivery leaves once the job has expired into the dead-letter queue.
    t.payments.settings.down = true;
    const res = await t.http.post('/orders').send({ customerId: 'cust_dead_letter', items: [{ sku: product.sku, quantity: 1 }] });
    const orderId = res.body.order.id;
    await dropChargeJob(orderId);
    const charge = chargeAtProvider(orderId, 900);
    t.payments.settings.down = false;
    await t.ctx.queue.send(QUEUES.ORDER_CHARGE_DEAD, { orderId });
    const done = await eventually(async () => {
      const o = await order(orderId);
      return ['completed', 'failed'].includes(o.status) ? o : null;
    }, 30_000);
    expect(done.status).toBe('completed');
    expect(done.payments.find((p: { outcome: string }) => p.outcome === 'succeeded').chargeId).toBe(charge.id);
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
  });

  it('when a charge job dies and the provider holds nothing, then the dead-letter worker releases the stock and fails the order', async () => {
    const product = await createProduct({ stock: 5 });
    t.payments.settings.down = true;
    const res = await t.http.post('/orders').send({ customerId: 'cust_dead_nothing', items: [{ sku: product.sku, quantity: 1 }] });
    const orderId = res.body.order.id;
    await dropChargeJob(orderId);
    t.payments.settings.down = false;
    await t.ctx.queue.send(QUEUES.ORDER_CHARGE_DEAD, { orderId });
    const done = await eventually(async () => {
      const o = await order(orderId);
      return ['completed', 'failed'].includes(o.status) ? o : null;
    }, 30_000);
    expect(done).toMatchObject({ status: 'failed', failureReason: 'PAYMENT_RETRIES_EXHAUSTED' });
    expect((await t.http.get(`/products/${product.sku}`)).body.product.stockReserved).toBe(0);
  });
});

describe('payments: a provider that never accepts the connection', () => {
  let t: TestApp;
  let stalled: StalledServer;
  beforeAll(async () => {
    stalled = await startStalledServer();
    t = await startTestApp({ workers: true, paymentProviderUrl: stalled.url, env: { PAYMENT_TIMEOUT_MS: '500', PAYMENT_MAX_ATTEMPTS: '2' } });
  });
  afterAll(async () => {
    await t.stop();
    await stalled.close();
  });

  it('when the provider never completes the TCP handshake, then each attempt fails as a timeout after PAYMENT_TIMEOUT_MS and the order fails with its stock released', async () => {
    const product = await createProduct({ stock: 5 });
    const res = await t.http.post('/orders').send({ customerId: 'cust_syn_sent', items: [{ sku: product.sku, quantity: 2 }] });
    expect(res.status).toBe(202);
    // PAYMENT_TIMEOUT_MS must cover connecting too: Linux gives up on an unanswered SYN only after about two minutes.
    const done = await eventually(async () => {
      const o = (await t.http.get(`/orders/${res.body.order.id}`)).body.order;
      return o.status === 'failed' ? o : null;
    }, 20_000);
    expect(done.failureReason).toBe('PAYMENT_RETRIES_EXHAUSTED');
    expect(done.payments.map((p: { outcome: string; errorCode: string }) => [p.outcome, p.errorCode])).toEqual([
      ['failed', 'PROVIDER_TIMEOUT'],
      ['failed', 'PROVIDER_TIMEOUT'],
    ]);
    expect((await t.http.get(`/products/${product.sku}`)).body.product).toMatchObject({ stockOnHand: 5, stockReserved: 0 });
    expect(await invariantViolations(t)).toEqual([]);
  });
});

describe('payments: a lookup that meets a connection the provider already closed', () => {
  let t: TestApp;
  let provider: RunningServer;
  const lookups = { received: 0 };
  beforeAll(async () => {
    // Every charge call fails at the edge; the first lookup's connection is cut, as a pooled
    // keep-alive socket the provider closed during a pause; later lookups find the charge.
    const app = express();
    app.post('/charges', (_req, res) => {
      res.status(503).json({ error: { code: 'unavailable', message: 'Temporary failure' } });
    });
    app.get('/charges', (req, res) => {
      lookups.received += 1;
      if (lookups.received === 1) {
        req.socket.destroy();
        return;
      }
      const orderId = String(req.query.orderId);
      res.json({ items: [{ id: 'ch_found_after_reset', orderId, status: 'succeeded', idempotencyKey: paymentIdempotencyKey(orderId) }] });
    });
    provider = await listen(app, 0);
    t = await startTestApp({ workers: true, paymentProviderUrl: provider.url, env: { PAYMENT_MAX_ATTEMPTS: '3', PAYMENT_RETRY_DELAY_S: '30' } });
  });
  afterAll(async () => {
    await t.stop();
    await provider.close();
  });

  it('when the first lookup after a failed charge call is cut off, then it is asked once more and the order completes on that same attempt', async () => {
    const product = await createProduct({ stock: 5 });
    const res = await t.http.post('/orders').send({ customerId: 'cust_lookup_reset', items: [{ sku: product.sku, quantity: 1 }] });
    const done = await eventually(async () => {
      const o = (await t.http.get(`/orders/${res.body.order.id}`)).body.order;
      return ['completed', 'failed'].includes(o.status) ? o : null;
    }, 15_000);
    expect(done).toMatchObject({ status: 'completed', paymentAttempts: 1 });
    expect(done.payments).toEqual([expect.objectContaining({ attempt: 1, outcome: 'succeeded', chargeId: 'ch_found_after_reset' })]);
    expect(lookups.received).toBe(2);
  });
});
