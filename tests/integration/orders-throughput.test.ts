import { invariantViolations } from '../helpers/invariants';
import { createProduct, eventually, startTestApp, type TestApp } from '../helpers/test-app';
import { startWorkers } from '../../src/workers';

async function waitForTerminal(t: TestApp, orderId: string, timeoutMs = 30_000) {
  return eventually(async () => {
    const res = await t.http.get(`/orders/${orderId}`);
    return ['completed', 'failed', 'cancelled'].includes(res.body.order?.status) ? res.body.order : null;
  }, timeoutMs);
}

/** One sample of a gauge from GET /metrics, or null when the series is absent. */
async function gauge(t: TestApp, name: string, labels = ''): Promise<number | null> {
  const text = (await t.http.get('/metrics').expect(200)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

async function ordersOf(t: TestApp, customerId: string): Promise<Array<{ id: string; status: string }>> {
  return (await t.http.get('/orders').query({ customerId, limit: 100 }).expect(200)).body.orders;
}

describe('intake sheds load before orderloop\'s own queue could expire an order', () => {
  let t: TestApp;
  beforeAll(async () => {
    // No workers yet: the first order's job waits, and the backlog grows older by the second.
    t = await startTestApp({ env: { INTAKE_MAX_BACKLOG_S: '2' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when the oldest waiting order job is older than INTAKE_MAX_BACKLOG_S, then new orders get 503 with Retry-After and nothing is written, and once the workers catch up orders are accepted again', async () => {
    const product = await createProduct({ stock: 10 });
    const customerId = `cust_shed_${Date.now()}`;
    const order = { customerId, items: [{ sku: product.sku, quantity: 1 }] };

    const firstKey = `first-${Date.now()}`;
    const first = await t.http.post('/orders/create').set('Idempotency-Key', firstKey).send(order);
    expect(first.status).toBe(202);

    const overview = await eventually(async () => {
      const body = (await t.http.get('/admin/overview').expect(200)).body;
      return body.backlog.shedding ? body.backlog : null;
    }, 15_000);
    expect(overview).toMatchObject({ maxSeconds: 2, shedding: true });
    expect(overview.oldestSeconds).toBeGreaterThan(2);
    expect(await gauge(t, 'orderloop_queue_backlog_age_seconds', '{queue="order-reserve"}')).toBeGreaterThan(2);
    expect(await gauge(t, 'orderloop_intake_max_backlog_seconds')).toBe(2);

    const refused = await t.http.post('/orders/create').set('Idempotency-Key', `shed-${Date.now()}`).send(order);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.body.error).toEqual({
      code: 'SERVICE_UNAVAILABLE',
      message: expect.stringContaining('nothing was written'),
      details: { backlogSeconds: expect.any(Number), maxBacklogSeconds: 2 },
      requestId: expect.any(String),
    });
    expect(await ordersOf(t, customerId)).toEqual([expect.objectContaining({ id: first.body.order.id })]);

    // A retry of the order accepted before is still answered: it asks for no new work.
    const replay = await t.http.post('/orders/create').set('Idempotency-Key', firstKey).send(order);
    expect(replay.status).toBe(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.order.id).toBe(first.body.order.id);

    const workers = await startWorkers(t.ctx);
    try {
      expect((await waitForTerminal(t, first.body.order.id)).status).toBe('completed');
      const accepted = await eventually(async () => {
        const res = await t.http.post('/orders/create').send(order);
        return res.status === 202 ? res.body.order : null;
      }, 15_000);
      expect((await waitForTerminal(t, accepted.id)).status).toBe('completed');
      expect((await ordersOf(t, customerId)).map((o) => o.status)).toEqual(['completed', 'completed']);
      expect(await invariantViolations(t)).toEqual([]);
    } finally {
      await workers.stop();
    }
  });
});

describe('charges wait on the provider, not on each other', () => {
  let t: TestApp;
  afterEach(async () => {
    await t?.stop();
  });

  it('when 30 orders arrive together and each charge takes the provider 3 s, then their charges are in flight together and every order completes', async () => {
    t = await startTestApp({ workers: true, env: { PAYMENT_TIMEOUT_MS: '8000' } });
    t.payments.settings.latencyMs = 3000;
    const product = await createProduct({ stock: 100 });
    const created = await Promise.all(Array.from({ length: 30 }, () =>
      t.http.post('/orders/create').send({ customerId: 'cust_parallel', items: [{ sku: product.sku, quantity: 1 }] })));
    expect(created.map((res) => res.status)).toEqual(Array(30).fill(202));
    for (const res of created) expect((await waitForTerminal(t, res.body.order.id)).status).toBe('completed');
    // Four at a time (the old per-batch limit) would never pass 4; the 30 overlap while each waits 3 s.
    expect(t.payments.load.peakInFlight).toBeGreaterThanOrEqual(20);
    expect(await invariantViolations(t)).toEqual([]);
  });

  it('when PAYMENT_CONCURRENCY is 3, then no more than 3 charges are ever in flight and every order still completes', async () => {
    t = await startTestApp({ workers: true, env: { PAYMENT_TIMEOUT_MS: '5000', PAYMENT_CONCURRENCY: '3' } });
    t.payments.settings.latencyMs = 300;
    const product = await createProduct({ stock: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      ids.push((await t.http.post('/orders/create').send({ customerId: 'cust_bounded', items: [{ sku: product.sku, quantity: 1 }] }).expect(202)).body.order.id);
    }
    for (const id of ids) expect((await waitForTerminal(t, id)).status).toBe('completed');
    expect(t.payments.load.peakInFlight).toBe(3);
    expect(await invariantViolations(t)).toEqual([]);
  });
});
