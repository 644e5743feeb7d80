import { createHmac, timingSafeEqual } from 'node:crypto';
import { startWebhookReceiver, type ReceivedDelivery, type WebhookReceiver } from '../../src/mocks/webhook-receiver';
import { publishEvents } from '../../src/modules/events';
import type { RunningServer } from '../../src/shared/http-server';
import { createProduct, eventually, startTestApp, waitForTerminal, type TestApp } from '../helpers/test-app';

/**
 * Webhooks through the API: endpoints registered over HTTP, events written by real orders in
 * their own transactions, delivered by pg-boss jobs to a receiver that is a real HTTP server.
 */

/** README's receiver recipe, word for word: what a shop runs to trust a delivery. */
function verify(rawBody: string, header: string, secret: string, toleranceSeconds = 300): boolean {
  const { t, v1 } = Object.fromEntries(header.split(',').map((part) => part.split('=')));
  if (!t || !v1 || Math.abs(Date.now() / 1000 - Number(t)) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('webhooks', () => {
  let t: TestApp;
  let hooks: RunningServer & { receiver: WebhookReceiver; hookUrl: string };

  beforeAll(async () => {
    t = await startTestApp({
      workers: true,
      env: { WEBHOOK_RETRY_DELAY_S: '1', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_DISABLE_AFTER_FAILURES: '2', EVENTS_RELAY_INTERVAL_S: '0.5', PAYMENT_CIRCUIT_ENABLED: 'false' },
    });
    hooks = await startWebhookReceiver();
  });
  afterAll(async () => {
    await t.stop();
    await hooks.close();
  });
  afterEach(() => {
    Object.assign(hooks.receiver.settings, { down: false, failNext: 0, failStatus: 500, latencyMs: 0, secret: null });
  });

  async function register(path: string, events: string[] = ['*'], http = t.http) {
    const res = await http.post('/webhooks').send({ url: `${hooks.hookUrl}/${path}`, events, description: `test ${path}` });
    expect(res.status).toBe(201);
    return res.body.endpoint as { id: string; secret: string; url: string };
  }

  const receivedAt = (path: string): ReceivedDelivery[] => hooks.receiver.received.filter((r) => r.path === `/hooks/${path}`);

  async function deliveries(endpointId: string, http = t.http) {
    const res = await http.get(`/webhooks/${endpointId}/deliveries`);
    expect(res.status).toBe(200);
    return res.body.deliveries as Array<{ id: string; status: string; attempts: number; eventType: string; attemptLog: Array<Record<string, unknown>> }>;
  }

  async function completedOrder(customerId: string) {
    const product = await createProduct({ stock: 10, priceCents: 700 });
    const res = await t.http.post('/orders').send({ customerId, items: [{ sku: product.sku, quantity: 1 }] });
    expect(res.status).toBe(202);
    const order = await waitForTerminal(t, res.body.order.id);
    expect(order.status).toBe('completed');
    return order;
  }

  it('when an order completes, then an endpoint for every event receives order.created, order.reserved and order.completed in sequence, each signed so that the README recipe verifies it', async () => {
    const endpoint = await register('all');
    expect(endpoint.secret).toMatch(/^whsec_/);
    hooks.receiver.settings.secret = endpoint.secret;
    const order = await completedOrder('cust_hooks_all');

    const got = await eventually(async () => {
      const mine = receivedAt('all').filter((r) => r.orderId === order.id);
      return mine.length >= 3 ? mine : null;
    });
    const bySequence = [...got].sort((a, b) => a.sequence! - b.sequence!);
    expect(bySequence.map((r) => [r.sequence, r.type])).toEqual([[1, 'order.created'], [2, 'order.reserved'], [3, 'order.completed']]);
    expect(got.every((r) => r.signatureValid === true)).toBe(true);
    const completed = bySequence[2].body as { id: string; type: string; apiVersion: string; createdAt: string; data: Record<string, unknown> };
    expect(completed).toMatchObject({ type: 'order.completed', apiVersion: expect.any(String), createdAt: expect.any(String) });
    expect(completed.data).toMatchObject({
      id: order.id, status: 'completed', customerId: 'cust_hooks_all', currency: order.currency, totalCents: order.totalCents,
      items: order.items, createdAt: order.createdAt,
    });
    expect(new Set(got.map((r) => r.eventId)).size).toBe(3);

    // The recipe itself, on a body and header as they went over the wire (the receiver keeps the parsed body).
    const body = JSON.stringify(completed);
    const t0 = Math.floor(Date.now() / 1000);
    const header = `t=${t0},v1=${createHmac('sha256', endpoint.secret).update(`${t0}.${body}`).digest('hex')}`;
    expect(verify(body, header, endpoint.secret)).toBe(true);
    expect(verify(body, header, 'whsec_another')).toBe(false);
    expect(verify(`${body} `, header, endpoint.secret)).toBe(false);
    expect(verify(body, header.replace(/t=\d+/, `t=${t0 - 301}`), endpoint.secret)).toBe(false);

    // Its deliveries are listed with their single attempt each.
    // The receiver answers before the attempt is recorded (attempts are written in groups): wait for the record.
    const listed = await eventually(async () => {
      const mine = (await deliveries(endpoint.id)).filter((d) => d.eventType.startsWith('order.'));
      return mine.length >= 3 && mine.every((d) => d.status !== 'pending') ? mine : null;
    });
    expect(listed.every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true);
    await t.http.delete(`/webhooks/${endpoint.id}`).expect(204);
  });

  it('when a change rolls back, then no event of it is delivered, while one committed next to it is', async () => {
    const endpoint = await register('rollback', ['inventory.low_stock']);
    const marker = `rollback-${Date.now()}`;
    await expect(t.ctx.sequelize.transaction(async (transaction) => {
      await publishEvents(t.ctx.sequelize, [{ type: 'inventory.low_stock', data: { sku: `${marker}-rolled-back` } }], transaction);
      throw new Error('the change failed after writing its event');
    })).rejects.toThrow('the change failed');
    await t.ctx.sequelize.transaction((transaction) =>
      publishEvents(t.ctx.sequelize, [{ type: 'inventory.low_stock', data: { sku: `${marker}-committed` } }], transaction));

    await eventually(async () => receivedAt('rollback').some((r) => (r.body.data as { sku: string }).sku === `${marker}-committed`));
    // The relay has passed the rolled-back event's moment: give a straggler time to show up anyway.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receivedAt('rollback').map((r) => (r.body.data as { sku: string }).sku)).toEqual([`${marker}-committed`]);

    // Orders: two requests racing with one Idempotency-Key make one order, and one order.created.
    const product = await createProduct({ stock: 10 });
    const key = `race-${Date.now()}`;
    const created = await register('race', ['order.created']);
    const [a, b] = await Promise.all([0, 1].map(() =>
      t.http.post('/orders').set('Idempotency-Key', key).send({ customerId: 'cust_hooks_race', items: [{ sku: product.sku, quantity: 1 }] })));
    expect(a.body.order.id).toBe(b.body.order.id);
    await waitForTerminal(t, a.body.order.id);
    await eventually(async () => receivedAt('race').some((r) => r.orderId === a.body.order.id));
    await new Promise((r) => setTimeout(r, 1000));
    expect(receivedAt('race').filter((r) => r.orderId === a.body.order.id)).toHaveLength(1);
    await t.http.delete(`/webhooks/${endpoint.id}`).expect(204);
    await t.http.delete(`/webhooks/${created.id}`).expect(204);
  });

  it('when the receiver answers 500 and then 200, then the delivery is made on a retry and both attempts are recorded', async () => {
    const endpoint = await register('flaky', ['order.completed']);
    hooks.receiver.settings.failNext = 1;
    const ping = await t.http.post(`/webhooks/${endpoint.id}/test`).send({});
    expect(ping.status).toBe(202);
    expect(ping.body.delivery).toMatchObject({ eventType: 'ping', status: 'pending' });

    const delivered = await eventually(async () => {
      const [d] = (await deliveries(endpoint.id)).filter((x) => x.id === ping.body.delivery.id);
      return d?.status === 'delivered' ? d : null;
    });
    expect(delivered.attempts).toBe(2);
    expect(delivered.attemptLog).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'failed', httpStatus: 500, error: 'HTTP 500', nextRetryAt: expect.any(String), durationMs: expect.any(Number) }),
      expect.objectContaining({ attempt: 2, outcome: 'delivered', httpStatus: 200, error: null, nextRetryAt: null }),
    ]);
    const pings = receivedAt('flaky').filter((r) => r.type === 'ping');
    expect(pings).toHaveLength(1);
    expect(pings[0].body.data).toMatchObject({ endpointId: endpoint.id });
    const listed = (await t.http.get('/webhooks')).body.endpoints.find((e: { id: string }) => e.id === endpoint.id);
    expect(listed.deliveries).toEqual({ pending: 0, delivered: 1, failed: 0 });

    // Sent again by request while the receiver is down: the attempt fails, but the delivery was made and stays delivered.
    hooks.receiver.settings.down = true;
    expect((await t.http.post(`/webhooks/${endpoint.id}/deliveries/${delivered.id}/retry`).send({})).status).toBe(202);
    const resent = await eventually(async () => {
      const d = (await deliveries(endpoint.id)).find((x) => x.id === delivered.id);
      return d && d.attempts === 3 && d.status !== 'pending' ? d : null;
    });
    expect(resent.status).toBe('delivered');
    expect(resent.attemptLog.map((a) => a.outcome)).toEqual(['failed', 'delivered', 'failed']);
    expect((await t.http.get(`/webhooks/${endpoint.id}`)).body.endpoint.deliveries).toEqual({ pending: 0, delivered: 1, failed: 0 });
    await t.http.delete(`/webhooks/${endpoint.id}`).expect(204);
  });

  it('when the receiver stays down past every attempt, then the delivery fails, a retry by request delivers it once it is back, and an endpoint that keeps failing is disabled with the reason', async () => {
    const endpoint = await register('down', ['order.completed']);
    hooks.receiver.settings.down = true;
    const first = (await t.http.post(`/webhooks/${endpoint.id}/test`).send({}).expect(202)).body.delivery;
    const failed = await eventually(async () => {
      const [d] = await deliveries(endpoint.id);
      return d?.status === 'failed' ? d : null;
    });
    expect(failed.attempts).toBe(3);
    expect(failed.attemptLog.map((a) => [a.attempt, a.outcome, a.error])).toEqual([
      [1, 'failed', 'connection closed before an answer'],
      [2, 'failed', 'connection closed before an answer'],
      [3, 'failed', 'connection closed before an answer'],
    ]);
    expect(failed.attemptLog[2].nextRetryAt).toBeNull();
    expect((await t.http.get(`/webhooks/${endpoint.id}`)).body.endpoint).toMatchObject({ enabled: true, deliveries: { failed: 1, pending: 0 } });

    hooks.receiver.settings.down = false;
    const retried = await t.http.post(`/webhooks/${endpoint.id}/deliveries/${first.id}/retry`).send({});
    expect(retried.status).toBe(202);
    const redelivered = await eventually(async () => {
      const d = (await deliveries(endpoint.id)).find((x) => x.id === first.id);
      return d?.status === 'delivered' ? d : null;
    });
    expect(redelivered.attemptLog.map((a) => [a.attempt, a.outcome])).toEqual([[1, 'failed'], [2, 'failed'], [3, 'failed'], [4, 'delivered']]);
    expect(receivedAt('down').filter((r) => r.type === 'ping')).toHaveLength(1);

    // Two deliveries in a row failed for good (WEBHOOK_DISABLE_AFTER_FAILURES=2): the endpoint is turned off and says why.
    hooks.receiver.settings.down = true;
    for (let i = 0; i < 2; i++) {
      const ping = (await t.http.post(`/webhooks/${endpoint.id}/test`).send({}).expect(202)).body.delivery;
      await eventually(async () => (await deliveries(endpoint.id)).find((d) => d.id === ping.id)?.status === 'failed');
    }
    const disabled = (await t.http.get(`/webhooks/${endpoint.id}`)).body.endpoint;
    expect(disabled.enabled).toBe(false);
    expect(disabled.disabledReason).toMatch(/2 deliveries in a row failed after every retry \(last error: connection closed before an answer\)/);
    const overview = (await t.http.get('/admin/overview')).body.webhooks;
    expect(overview.disabled).toBeGreaterThanOrEqual(1);
    expect(overview.deliveries.failed).toBeGreaterThanOrEqual(2);
    const enabled = await t.http.patch(`/webhooks/${endpoint.id}`).send({ enabled: true });
    expect(enabled.body.endpoint).toMatchObject({ enabled: true, disabledReason: null });
    await t.http.delete(`/webhooks/${endpoint.id}`).expect(204);
  });

  it("when a customer client registers an endpoint, then it receives only its own orders' events, and other customers cannot see it", async () => {
    const alice = t.anonymous.post('/webhooks').set('Authorization', `Bearer ${await t.tokenFor({ clientId: 'c-alice', role: 'customer', customerId: 'cust_alice_hooks' })}`);
    const res = await alice.send({ url: `${hooks.hookUrl}/alice`, events: ['*'] });
    expect(res.status).toBe(201);
    expect(res.body.endpoint.customerId).toBe('cust_alice_hooks');
    const aliceEndpoint = res.body.endpoint;

    const [mine, theirs] = await Promise.all([completedOrder('cust_alice_hooks'), completedOrder('cust_bob_hooks')]);
    await eventually(async () => receivedAt('alice').filter((r) => r.orderId === mine.id).length >= 3);
    // Bob's order and the inventory events had their moment to be (wrongly) delivered too.
    await new Promise((r) => setTimeout(r, 1500));
    const got = receivedAt('alice');
    expect(got.filter((r) => r.orderId === theirs.id)).toEqual([]);
    expect(got.every((r) => r.type.startsWith('order.') && (r.body.data as { customerId: string }).customerId === 'cust_alice_hooks')).toBe(true);

    const bob = await t.tokenFor({ clientId: 'c-bob', role: 'customer', customerId: 'cust_bob_hooks' });
    expect((await t.anonymous.get(`/webhooks/${aliceEndpoint.id}`).set('Authorization', `Bearer ${bob}`)).status).toBe(404);
    expect((await t.anonymous.get('/webhooks').set('Authorization', `Bearer ${bob}`)).body.endpoints).toEqual([]);
    expect((await t.anonymous.delete(`/webhooks/${aliceEndpoint.id}`).set('Authorization', `Bearer ${bob}`)).status).toBe(404);
    // A customer's stream of every event is an admin's only.
    expect((await t.anonymous.get('/events').set('Authorization', `Bearer ${bob}`)).status).toBe(403);
    await t.http.delete(`/webhooks/${aliceEndpoint.id}`).expect(204);
  });

  it('when an endpoint is listed, read or changed, then its secret is never shown again, and a deleted one is gone', async () => {
    const endpoint = await register('crud', ['order.completed', 'order.failed']);
    const listed = (await t.http.get('/webhooks')).body.endpoints.find((e: { id: string }) => e.id === endpoint.id);
    expect(listed).toMatchObject({ url: `${hooks.hookUrl}/crud`, events: ['order.completed', 'order.failed'], enabled: true });
    expect(listed).not.toHaveProperty('secret');
    const patched = await t.http.patch(`/webhooks/${endpoint.id}`).send({ events: ['order.refunded'], description: 'refunds only' });
    expect(patched.status).toBe(200);
    expect(patched.body.endpoint).toMatchObject({ events: ['order.refunded'], description: 'refunds only' });
    expect(patched.body.endpoint).not.toHaveProperty('secret');
    expect((await t.http.delete(`/webhooks/${endpoint.id}`)).status).toBe(204);
    const gone = await t.http.get(`/webhooks/${endpoint.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('WEBHOOK_NOT_FOUND');
  });

  it.each([
    ['no url', { events: ['*'] }, 'url'],
    ['a url that is not http', { url: 'ftp://example.com/hooks', events: ['*'] }, 'url'],
    ['no events', { url: 'http://example.com/hooks', events: [] }, 'events'],
    ['an unknown event', { url: 'http://example.com/hooks', events: ['order.shipped'] }, 'events.0'],
    ['an unknown field', { url: 'http://example.com/hooks', events: ['*'], secret: 'mine' }, 'secret'],
  ])('when an endpoint is registered with %s, then 400 names the field and nothing is written', async (_name, body, path) => {
    const before = (await t.query<{ n: string }>('SELECT count(*) AS n FROM "Webhook_Endpoints"'))[0].n;
    const res = await t.http.post('/webhooks').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.any(String) });
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    expect((await t.query<{ n: string }>('SELECT count(*) AS n FROM "Webhook_Endpoints"'))[0].n).toBe(before);
  });

  it('when a delivery or endpoint does not exist, or a retry names a pending delivery, then 404 or 409 says so', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await t.http.get(`/webhooks/${missing}`)).status).toBe(404);
    expect((await t.http.get('/webhooks/not-a-uuid')).status).toBe(400);
    const endpoint = await register('pending', ['order.completed']);
    hooks.receiver.settings.latencyMs = 1500;
    const ping = (await t.http.post(`/webhooks/${endpoint.id}/test`).send({}).expect(202)).body.delivery;
    const res = await t.http.post(`/webhooks/${endpoint.id}/deliveries/${ping.id}/retry`).send({});
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('DELIVERY_PENDING');
    expect((await t.http.post(`/webhooks/${endpoint.id}/deliveries/${missing}/retry`).send({})).status).toBe(404);
    await eventually(async () => (await deliveries(endpoint.id))[0]?.status === 'delivered');
    await t.http.delete(`/webhooks/${endpoint.id}`).expect(204);
  });
});

describe('webhook addresses in production', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'false' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it.each([
    ['loopback', 'http://127.0.0.1:8080/hooks'],
    ['a name for loopback', 'http://localhost/hooks'],
    ['a private network', 'http://10.1.2.3/hooks'],
    ['link-local (cloud metadata)', 'http://169.254.169.254/latest/meta-data'],
    ['IPv6 loopback', 'http://[::1]/hooks'],
    ['an IPv4-mapped private address', 'http://[::ffff:192.168.0.1]/hooks'],
  ])('when an endpoint points at %s while private addresses are refused, then 400 WEBHOOK_URL_NOT_ALLOWED and nothing is written', async (_name, url) => {
    const res = await t.http.post('/webhooks').send({ url, events: ['*'] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'WEBHOOK_URL_NOT_ALLOWED', details: [expect.objectContaining({ path: 'url' })] });
    expect(await t.query('SELECT 1 FROM "Webhook_Endpoints"')).toEqual([]);
  });

  it('when an endpoint points at a public address, then it is registered', async () => {
    const res = await t.http.post('/webhooks').send({ url: 'https://93.184.215.14/hooks', events: ['order.completed'] });
    expect(res.status).toBe(201);
  });
});
