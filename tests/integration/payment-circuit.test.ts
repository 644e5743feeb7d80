import { createProduct, eventually, startTestApp, waitForTerminal, type TestApp } from '../helpers/test-app';
import { invariantViolations } from '../helpers/invariants';

/**
 * The circuit breaker around the payment provider, seen through the API: the admin overview's
 * circuit state, /metrics, /ready and the orders themselves. Settings are small so the test is
 * quick: it opens once 2 calls were made and more than 80 % of them failed, and probes after 2 s.
 */
describe('payment provider circuit breaker', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      workers: true,
      env: {
        PAYMENT_MAX_ATTEMPTS: '3',
        PAYMENT_RETRY_DELAY_S: '1',
        PAYMENT_CIRCUIT_VOLUME: '2',
        PAYMENT_CIRCUIT_WINDOW_S: '30',
        PAYMENT_CIRCUIT_RESET_S: '2',
      },
    });
  });
  afterAll(async () => {
    await t.stop();
  });
  afterEach(() => {
    Object.assign(t.payments.settings, { failureRate: 0, declineRate: 0, lostResponseRate: 0, latencyMs: 0, down: false });
  });

  const circuit = async () => (await t.http.get('/admin/overview')).body.payments.circuit;

  async function metric(name: string, state: string): Promise<number> {
    const text = (await t.http.get('/metrics')).text;
    const line = text.split('\n').find((l) => l.startsWith(`${name}{state="${state}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it('when the provider is down, then the circuit opens, charges wait without spending their attempts, /ready stays 200, and every order completes once the provider is back', async () => {
    const product = await createProduct({ stock: 50, priceCents: 300 });
    t.payments.settings.down = true;
    const sent = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      t.http.post('/orders').send({ customerId: `cust_circuit_${i}`, items: [{ sku: product.sku, quantity: 1 }] })));
    expect(sent.map((r) => r.status)).toEqual(Array(6).fill(202));
    const ids: string[] = sent.map((r) => r.body.order.id);

    const open = await eventually(async () => {
      const c = await circuit();
      return c.state === 'open' ? c : null;
    }, 15_000);
    expect(open.processes).toEqual([expect.objectContaining({ state: 'open', nextProbeAt: expect.any(String) })]);
    expect(await metric('orderloop_payment_circuit_state', 'open')).toBe(1);
    expect((await t.anonymous.get('/ready')).status).toBe(200);

    // Three attempts a second apart would have failed every order by now; with the circuit open they wait.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    for (const id of ids) {
      const o = (await t.http.get(`/orders/${id}`)).body.order;
      expect(o.status).toBe('reserved');
      expect(o.paymentAttempts).toBeLessThan(3);
    }
    // Half-open probes were made and failed: the circuit went half-open and opened again.
    expect(await metric('orderloop_payment_circuit_changes_total', 'half_open')).toBeGreaterThanOrEqual(1);
    const deferred = (await t.http.get(`/orders/${ids[5]}`)).body.order;
    expect(deferred.timeline.map((e: { event: string }) => e.event)).toContain('PAYMENT_DEFERRED');

    t.payments.settings.down = false;
    for (const id of ids) expect((await waitForTerminal(t, id, 30_000)).status).toBe('completed');
    expect((await circuit()).state).toBe('closed');
    expect(await metric('orderloop_payment_circuit_state', 'closed')).toBe(1);
    expect(await metric('orderloop_payment_circuit_changes_total', 'closed')).toBeGreaterThanOrEqual(1);
    expect(await invariantViolations(t)).toEqual([]);
  });

  it('when the provider declines every card, then the circuit stays closed and the orders fail PAYMENT_DECLINED at once', async () => {
    const product = await createProduct({ stock: 50 });
    const opensBefore = await metric('orderloop_payment_circuit_changes_total', 'open');
    t.payments.settings.declineRate = 1;
    const ids: string[] = [];
    for (let i = 0; i < 8; i += 1) {
      ids.push((await t.http.post('/orders').send({ customerId: `cust_decline_${i}`, items: [{ sku: product.sku, quantity: 1 }] })).body.order.id);
    }
    for (const id of ids) expect(await waitForTerminal(t, id)).toMatchObject({ status: 'failed', failureReason: 'PAYMENT_DECLINED', paymentAttempts: 1 });
    expect((await circuit()).state).toBe('closed');
    expect(await metric('orderloop_payment_circuit_changes_total', 'open')).toBe(opensBefore);
  });
});

describe('payment provider circuit breaker, for a lone order', () => {
  // Its own service: a circuit whose window holds no other order's calls.
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      workers: true,
      env: { PAYMENT_MAX_ATTEMPTS: '3', PAYMENT_RETRY_DELAY_S: '1', PAYMENT_CIRCUIT_VOLUME: '2', PAYMENT_CIRCUIT_RESET_S: '2' },
    });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when a lone order meets an outage that outlasts many probes, then the failed probes do not use up its attempts and it completes once the provider is back', async () => {
    const product = await createProduct({ stock: 5 });
    t.payments.settings.down = true;
    const id = (await t.http.post('/orders').send({ customerId: 'cust_circuit_lone', items: [{ sku: product.sku, quantity: 1 }] })).body.order.id;
    // Each half-open period (2 s) lets this order's charge probe the provider once.
    const probed = await eventually(async () => {
      const o = (await t.http.get(`/orders/${id}`)).body.order;
      const probes = o.timeline.filter((e: { event: string; message: string }) => e.event === 'PAYMENT_DEFERRED' && /probed the payment provider/.test(e.message));
      return probes.length >= 4 ? o : null;
    }, 40_000);
    expect(probed.status).toBe('reserved');
    // The attempts recorded, not the counter: that also counts a probe in flight, given back if it fails.
    expect(probed.payments.filter((p: { outcome: string }) => p.outcome === 'failed').length).toBeLessThan(3);
    t.payments.settings.down = false;
    expect((await waitForTerminal(t, id, 30_000)).status).toBe('completed');
    expect(await invariantViolations(t)).toEqual([]);
  }, 80_000);
});
